// tessera's signup.created → a Slack incoming-webhook message.
// Slack incoming webhooks take a JSON body with a `text` field (mrkdwn):
// https://api.slack.com/messaging/webhooks
// Other event types return null: the delivery is recorded and nothing is sent.
function onOutbound(message, config) {
  if (message.type !== "signup.created") {
    return null;
  }
  var d = message.data || {};
  var who = [d.first_name, d.last_name].filter(Boolean).join(" ");
  var text = "New signup: " + (who ? who + " <" + d.email + ">" : d.email);
  if (d.provider) {
    text += " from " + d.provider;
  }
  if (d.event_name) {
    text += " (" + d.event_name + ")";
  }
  if (config.prefix) {
    text = config.prefix + " " + text;
  }
  return { text: text };
}
