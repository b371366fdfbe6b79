//! The master key rotated while two nodes with their own key files serve: staged, copied
//! to the other node, then re-wrapped; every secret opens at both nodes throughout.

use crate::ops_keys::{assert_opens, keys_status, rotate_with, secret_for, seed, version};
use crate::support::TestServer;

#[test]
fn a_staged_rotation_beside_two_running_nodes_keeps_every_secret_open_at_both() {
    let one = TestServer::start();
    let two = one.join_with_own_key_file();
    let before: Vec<String> = (0..4).map(|i| format!("before-{i}")).collect();
    seed(&one, &before);
    // Node two has opened one of them: it holds that data key in memory.
    assert_opens(&two.admin(), &before[0], &secret_for(&before[0]));

    let staged = rotate_with(one.data_dir(), &["--stage"]);
    assert_eq!(staged["new_key"]["kind"], "file", "{staged}");
    assert_eq!(staged["active_version"], 2);
    assert_eq!(staged["rewrapped"], 0);
    // Staging again adds nothing while the staged version waits.
    let again = rotate_with(one.data_dir(), &["--stage"]);
    assert_eq!(again["new_key"]["kind"], "waiting", "{again}");
    assert_eq!(again["active_version"], 2);
    // Nothing is wrapped under the staged version yet: node two, without it, still opens
    // what it never opened before.
    assert_opens(&two.admin(), &before[1], &secret_for(&before[1]));

    // The operator's step: node two's key file gets the new version.
    std::fs::copy(one.data_dir().join("master.key"), two.data_dir().join("master.key")).expect("copy the key file");
    let rotated = rotate_with(one.data_dir(), &[]);
    assert_eq!(rotated["new_key"]["kind"], "resumed", "{rotated}");
    assert_eq!(rotated["active_version"], 2);
    assert!(rotated["rewrapped"].as_u64().unwrap() >= 5, "{rotated}");

    // Node two opens keys now wrapped under version 2 (re-reading its key file), and
    // what it held in memory still opens.
    for slug in &before {
        assert_opens(&two.admin(), slug, &secret_for(slug));
        assert_opens(&one.admin(), slug, &secret_for(slug));
    }
    // New tenants at either node open at the other.
    let after = ["after-at-two".to_owned()];
    seed(&two, &after);
    assert_opens(&one.admin(), &after[0], &secret_for(&after[0]));
    let status = keys_status(one.data_dir());
    assert_eq!(version(&status, 1)["data_keys"], 0, "{status}");
    assert_eq!(version(&status, 2)["data_keys"].as_u64().unwrap(), 6, "{status}");
}
