//! The script sandbox: QuickJS (quickjs-ng through `rquickjs`), one fresh runtime per
//! call, so nothing a script leaves behind reaches the next call or another tenant.
//!
//! What a script can reach is what the engine itself provides: the ECMAScript built-ins.
//! `rquickjs` compiles only the engine (no `quickjs-libc`, so no `std`/`os` modules, no
//! file system, no network, no timers), and tessera adds no host functions. On top:
//! - time: `Date.now()` and `new Date()` answer the fixed `now` the caller passes in;
//!   `performance` is removed;
//! - `Math.random()` is a seeded xorshift, so a retry of the same event computes the same;
//! - a memory cap (the runtime's allocator limit) and a time limit (an interrupt handler
//!   checked by the interpreter, whose exception a script cannot catch), per call.
//!
//! Calls are blocking and CPU-bound: run them on job worker or delivery worker threads,
//! never on the async executor.

use std::time::{Duration, Instant};

use rquickjs::context::EvalOptions;
use rquickjs::{Context, Ctx, Runtime, Value};

/// What one call may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub time: Duration,
    pub memory_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            time: Duration::from_millis(1000),
            memory_bytes: 32 * 1024 * 1024,
        }
    }
}

/// Largest JSON a script may return.
pub const MAX_RESULT_BYTES: usize = 1024 * 1024;
/// The name errors give the plugin's script.
pub const SCRIPT_NAME: &str = "script.js";
const STACK_BYTES: usize = 256 * 1024;
const PENDING: &str = "\u{0}pending";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    #[error("the script took longer than {} ms and was stopped", .0.as_millis())]
    Timeout(Duration),
    #[error("the script ran out of memory (limit {} MiB)", .0 / (1024 * 1024))]
    OutOfMemory(usize),
    /// A syntax error or an exception the script did not catch, with its line if known.
    #[error("{}", describe(.message, *.line))]
    Thrown { message: String, line: Option<u32> },
    #[error("the script's result {0}")]
    BadResult(String),
    #[error("the script engine failed: {0}")]
    Engine(String),
}

fn describe(message: &str, line: Option<u32>) -> String {
    match line {
        Some(line) => format!("line {line}: {message}"),
        None => message.to_owned(),
    }
}

/// Runs `script` and then `driver` (an expression calling one of its entry points with
/// `__tessera_args`, the parsed `args`), and returns the driver's value as JSON
/// (`undefined` becomes `null`). A promise is awaited within the same time limit.
pub fn run(
    limits: Limits,
    script: &str,
    driver: &str,
    args: &serde_json::Value,
    now_ms: i64,
    seed: u64,
) -> Result<serde_json::Value, ScriptError> {
    let started = Instant::now();
    let deadline = started + limits.time;
    let runtime = Runtime::new().map_err(|e| ScriptError::Engine(e.to_string()))?;
    runtime.set_memory_limit(limits.memory_bytes);
    runtime.set_max_stack_size(STACK_BYTES);
    runtime.set_interrupt_handler(Some(Box::new(move || Instant::now() >= deadline)));
    let context = Context::full(&runtime).map_err(|e| ScriptError::Engine(e.to_string()))?;
    let judge = |error: ScriptError| match error {
        _ if Instant::now() >= deadline => ScriptError::Timeout(limits.time),
        ScriptError::Thrown { message, .. } if message.contains("out of memory") => {
            ScriptError::OutOfMemory(limits.memory_bytes)
        }
        other => other,
    };
    let input = args.to_string();
    let first: Result<String, ScriptError> = context.with(|ctx| {
        let globals = ctx.globals();
        let setup = globals
            .set("__tessera_now", now_ms as f64)
            .and_then(|_| globals.set("__tessera_seed", (seed % (1 << 52)) as f64 + 1.0))
            .and_then(|_| globals.set("__tessera_input", input));
        setup.map_err(|e| caught(&ctx, e))?;
        ctx.eval::<(), _>(PRELUDE).map_err(|e| caught(&ctx, e))?;
        let mut options = EvalOptions::default();
        options.strict = false;
        options.filename = Some(SCRIPT_NAME.into());
        ctx.eval_with_options::<(), _>(script, options)
            .map_err(|e| caught(&ctx, e))?;
        ctx.eval::<String, _>(format!("__tessera_settle({driver})"))
            .map_err(|e| caught(&ctx, e))
    });
    let mut encoded = first.map_err(judge)?;
    if encoded == PENDING {
        loop {
            match runtime.execute_pending_job() {
                Ok(true) => continue,
                Ok(false) => break,
                Err(job) => {
                    let error = job.0.with(|ctx| caught(&ctx, rquickjs::Error::Exception));
                    return Err(judge(error));
                }
            }
        }
        encoded = context
            .with(|ctx| ctx.eval::<String, _>("__tessera_result()").map_err(|e| caught(&ctx, e)))
            .map_err(judge)?;
    }
    if encoded.len() > MAX_RESULT_BYTES {
        return Err(ScriptError::BadResult(format!(
            "is larger than {} KiB",
            MAX_RESULT_BYTES / 1024
        )));
    }
    serde_json::from_str(&encoded).map_err(|_| ScriptError::BadResult("is not JSON".into()))
}

/// The entry points `script` defines at its top level, after running it once with no
/// input (a syntax error, a throw or a limit hit while loading is reported as such).
pub fn entry_points(limits: Limits, script: &str) -> Result<Vec<String>, ScriptError> {
    let found = run(
        limits,
        script,
        "[typeof onInbound === 'function' && 'onInbound', \
          typeof onOutbound === 'function' && 'onOutbound', \
          typeof handler === 'function' && 'handler', \
          typeof __tessera_hookdeck === 'function' && 'addHandler'].filter(Boolean)",
        &serde_json::Value::Null,
        0,
        0,
    )?;
    Ok(found
        .as_array()
        .map(|names| names.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect())
        .unwrap_or_default())
}

/// The pending exception as a [`ScriptError`]: its name, message and line.
fn caught(ctx: &Ctx<'_>, error: rquickjs::Error) -> ScriptError {
    match error {
        rquickjs::Error::Exception => {}
        rquickjs::Error::Allocation => {
            return ScriptError::Thrown {
                message: "out of memory".into(),
                line: None,
            };
        }
        other => return ScriptError::Engine(other.to_string()),
    }
    let value: Value<'_> = ctx.catch();
    let Some(object) = value.as_object() else {
        let text = value
            .as_string()
            .and_then(|s| s.to_string().ok())
            .unwrap_or_else(|| "a non-error value".into());
        return ScriptError::Thrown {
            message: format!("uncaught {}", text.chars().take(500).collect::<String>()),
            line: None,
        };
    };
    let text = |key: &str| -> Option<String> {
        object
            .get::<_, Option<rquickjs::Coerced<String>>>(key)
            .ok()
            .flatten()
            .map(|c| c.0)
    };
    let name = text("name").unwrap_or_else(|| "Error".into());
    let message = text("message").unwrap_or_default();
    let line = object
        .get::<_, Option<f64>>("lineNumber")
        .ok()
        .flatten()
        .map(|n| n as u32)
        .or_else(|| text("stack").and_then(|stack| line_in_stack(&stack)));
    ScriptError::Thrown {
        message: format!("{name}: {message}").chars().take(500).collect(),
        line,
    }
}

/// The first `script.js:LINE` in a stack trace.
fn line_in_stack(stack: &str) -> Option<u32> {
    let marker = format!("{SCRIPT_NAME}:");
    let start = stack.find(&marker)? + marker.len();
    let digits: String = stack[start..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Runs before the plugin's script: the fixed clock, the seeded `Math.random`, Hookdeck's
/// `addHandler`, a silent `console`, and the helpers the drivers use.
const PRELUDE: &str = r#"
(function () {
  "use strict";
  var fixedNow = globalThis.__tessera_now;
  var RealDate = Date;
  function FixedDate() {
    if (!new.target) { return new RealDate(fixedNow).toString(); }
    return arguments.length === 0 ? new RealDate(fixedNow) : Reflect.construct(RealDate, Array.prototype.slice.call(arguments));
  }
  FixedDate.prototype = RealDate.prototype;
  FixedDate.now = function () { return fixedNow; };
  FixedDate.parse = RealDate.parse;
  FixedDate.UTC = RealDate.UTC;
  globalThis.Date = FixedDate;
  var state = globalThis.__tessera_seed >>> 0 || 1;
  Math.random = function () {
    state ^= state << 13; state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5; state >>>= 0;
    return state / 4294967296;
  };
  delete globalThis.performance;
  var noop = function () {};
  globalThis.console = { log: noop, info: noop, warn: noop, error: noop, debug: noop };
  globalThis.addHandler = function (name, fn) {
    if (name === "transform" && typeof fn === "function") { globalThis.__tessera_hookdeck = fn; }
  };
  globalThis.__tessera_args = JSON.parse(globalThis.__tessera_input);
  var encode = function (v) { var s = v === undefined ? "null" : JSON.stringify(v); return s === undefined ? "null" : s; };
  var settled = null;
  globalThis.__tessera_settle = function (v) {
    if (v !== null && typeof v === "object" && typeof v.then === "function") {
      v.then(function (x) { settled = { ok: x }; }, function (e) { settled = { err: e }; });
      return "\u0000pending";
    }
    return encode(v);
  };
  globalThis.__tessera_result = function () {
    if (settled === null) { throw new Error("the returned promise never settled"); }
    if ("err" in settled) { throw settled.err; }
    return encode(settled.ok);
  };
  delete globalThis.__tessera_input;
  delete globalThis.__tessera_now;
  delete globalThis.__tessera_seed;
})();
"#;

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn limits() -> Limits {
        Limits {
            time: Duration::from_millis(300),
            memory_bytes: 8 * 1024 * 1024,
        }
    }

    fn call(script: &str, driver: &str, args: serde_json::Value) -> Result<serde_json::Value, ScriptError> {
        run(limits(), script, driver, &args, 1_700_000_000_000, 7)
    }

    #[test]
    fn returns_json_and_sees_only_its_input() {
        let out = call(
            "function onInbound(e, c) { return {email: e.email, key: c.key, n: [1,2].length}; }",
            "onInbound(__tessera_args.event, __tessera_args.config)",
            json!({"event": {"email": "a@b.c"}, "config": {"key": "k"}}),
        )
        .unwrap();
        assert_eq!(out, json!({"email": "a@b.c", "key": "k", "n": 2}));
        let out = call("function f() {}", "f()", json!(null)).unwrap();
        assert_eq!(out, json!(null));
    }

    #[test]
    fn clock_is_fixed_and_random_is_seeded() {
        let script = "function f() { return [Date.now(), new Date().getTime(), new Date(0).getTime(), typeof performance, Math.random()]; }";
        let a = call(script, "f()", json!(null)).unwrap();
        let b = call(script, "f()", json!(null)).unwrap();
        assert_eq!(a[0], json!(1_700_000_000_000i64));
        assert_eq!(a[1], json!(1_700_000_000_000i64));
        assert_eq!(a[2], json!(0));
        assert_eq!(a[3], json!("undefined"));
        assert_eq!(a, b, "same seed, same numbers");
    }

    #[test]
    fn no_host_access() {
        let out = call(
            "function f() { return [typeof require, typeof process, typeof std, typeof os, typeof fetch, typeof XMLHttpRequest, typeof setTimeout]; }",
            "f()",
            json!(null),
        )
        .unwrap();
        assert_eq!(out, json!(vec!["undefined"; 7]));
    }

    #[test]
    fn infinite_loop_is_stopped_even_when_caught() {
        let started = Instant::now();
        let err = call(
            "function f() { for (;;) { try { while (true) {} } catch (e) {} } }",
            "f()",
            json!(null),
        )
        .unwrap_err();
        assert_eq!(err, ScriptError::Timeout(Duration::from_millis(300)));
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn memory_bomb_is_stopped() {
        let err = call(
            "function f() { var a = []; for (;;) { a.push(new Array(100000).fill('x' + a.length)); } }",
            "f()",
            json!(null),
        )
        .unwrap_err();
        assert_eq!(err, ScriptError::OutOfMemory(8 * 1024 * 1024), "{err}");
    }

    #[test]
    fn throws_and_syntax_errors_name_the_line() {
        let err = call(
            "function f() {\n  var x = 1;\n  throw new TypeError('nope');\n}",
            "f()",
            json!(null),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "line 3: TypeError: nope");
        let err = call("function f() {\n  return (;\n}", "f()", json!(null)).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("line 2: SyntaxError"), "{text}");
        let err = call("function f() { throw 'plain'; }", "f()", json!(null)).unwrap_err();
        assert_eq!(err.to_string(), "uncaught plain");
    }

    #[test]
    fn promises_are_awaited() {
        let out = call("async function f(x) { return x + 1; }", "f(__tessera_args)", json!(41)).unwrap();
        assert_eq!(out, json!(42));
        let err = call("async function f() { throw new Error('later'); }", "f()", json!(null)).unwrap_err();
        assert!(err.to_string().contains("Error: later"), "{err}");
    }

    #[test]
    fn finds_entry_points() {
        let found = entry_points(
            limits(),
            "function onInbound() {}\nfunction handler(w) { return w; }\naddHandler('transform', (r) => r);",
        )
        .unwrap();
        assert_eq!(found, vec!["onInbound", "handler", "addHandler"]);
    }
}
