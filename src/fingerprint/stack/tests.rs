//! Tests of stack-trace signatures, on the example entries' traces and hand-written ones.

use super::*;

fn sig(message: &str) -> String {
    signature(message).into_owned()
}

const ERROR_REPORTING: &str = "Traceback (most recent call last):\n  File \"/app/backend/api/orders.py\", line 57, in create_order\n    total = compute_total(cart)\n  File \"/app/backend/pricing.py\", line 19, in compute_total\n    return sum(i.price for i in cart.items) / cart.qty\nZeroDivisionError: division by zero";

#[test]
fn python_trace_is_type_message_and_frames_innermost_first() {
    assert_eq!(
        sig(ERROR_REPORTING),
        "ZeroDivisionError: division by zero (at compute_total in backend/pricing.py ← create_order in backend/api/orders.py)"
    );
}

#[test]
fn line_numbers_do_not_change_the_signature() {
    let moved = ERROR_REPORTING
        .replace("line 57", "line 61")
        .replace("line 19", "line 23");
    assert_eq!(sig(&moved), sig(ERROR_REPORTING));
}

#[test]
fn preamble_first_line_is_kept_and_trailing_notes_dropped() {
    let m = "DB connect failed\nTraceback (most recent call last):\n  File \"/app/backend/db.py\", line 41, in connect\n    return engine.connect()\nsqlalchemy.exc.OperationalError: (psycopg2.OperationalError) connection to server at \"10.20.0.3\", port 5432 failed: timeout expired\n\n(Background on this error at: https://sqlalche.me/e/20/e3q8)";
    assert_eq!(
        sig(m),
        "DB connect failed — sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) connection to server at \"10.20.0.3\", port 5432 failed: timeout expired (at connect in backend/db.py)"
    );
}

#[test]
fn library_only_top_frames_add_our_innermost_frame() {
    let m = "Traceback (most recent call last):\n  File \"/app/backend/jobs.py\", line 9, in run\n    x()\n  File \"/usr/local/lib/python3.12/site-packages/sqlalchemy/engine/base.py\", line 1, in execute\n    y()\n  File \"/usr/local/lib/python3.12/site-packages/sqlalchemy/pool/impl.py\", line 2, in _do_get\n    z()\nsqlalchemy.exc.TimeoutError: QueuePool limit";
    assert_eq!(
        sig(m),
        "sqlalchemy.exc.TimeoutError: QueuePool limit (at _do_get in sqlalchemy/pool/impl.py ← execute in sqlalchemy/engine/base.py ← run in backend/jobs.py)"
    );
    let gunicorn = "Traceback (most recent call last):\n  File \"/usr/local/lib/python3.12/site-packages/gunicorn/workers/gthread.py\", line 281, in handle\n    keepalive = self.handle_request(req, conn)\n  File \"/usr/local/lib/python3.12/site-packages/gunicorn/workers/gthread.py\", line 333, in handle_request\n    respiter = self.wsgi(environ, resp.start_response)\nTypeError: FastAPI.__call__() missing 1 required positional argument: 'send'";
    assert_eq!(
        sig(gunicorn),
        "TypeError: FastAPI.__call__() missing 1 required positional argument: 'send' (at handle_request in gunicorn/workers/gthread.py ← handle in gunicorn/workers/gthread.py)"
    );
}

#[test]
fn only_three_innermost_frames_are_kept() {
    let frames: String = (0..6)
        .map(|i| format!("  File \"/app/m{i}.py\", line {i}, in f{i}\n    f()\n"))
        .collect();
    let m = format!("Traceback (most recent call last):\n{frames}KeyError: 'x'");
    assert_eq!(
        sig(&m),
        "KeyError: 'x' (at f5 in m5.py ← f4 in m4.py ← f3 in m3.py)"
    );
}

#[test]
fn chained_python_exceptions_are_headed_by_the_root_cause() {
    let m = "Traceback (most recent call last):\n  File \"/app/a.py\", line 1, in f\n    g()\nKeyError: 'k'\n\nDuring handling of the above exception, another exception occurred:\n\nTraceback (most recent call last):\n  File \"/app/a.py\", line 3, in f\n    raise LookupFailed()\napp.errors.LookupFailed: no such user";
    assert_eq!(
        sig(m),
        "KeyError: 'k' (at f in a.py) → app.errors.LookupFailed"
    );
    let direct = m.replace(
        "During handling of the above exception, another exception occurred:",
        "The above exception was the direct cause of the following exception:",
    );
    assert_eq!(sig(&direct), sig(m));
}

#[test]
fn a_bare_python_header_still_reads() {
    let m = "Traceback (most recent call last):\n  File \"/app/backend/db.py\", line 88, in get_session";
    assert_eq!(
        sig(m),
        "Traceback (incomplete) (at get_session in backend/db.py)"
    );
}

#[test]
fn node_error_with_frames() {
    let m = "Error: 5 NOT_FOUND: Queue does not exist. If you just created the queue, wait at least a minute for the queue to initialize.\n    at callErrorFromStatus (/workspace/node_modules/@grpc/grpc-js/build/src/call.js:32:19)\n    at Object.onReceiveStatus (/workspace/node_modules/@grpc/grpc-js/build/src/client.js:193:76)\n    at process.processTicksAndRejections (node:internal/process/task_queues:85:11)\n";
    assert_eq!(
        sig(m),
        "Error: 5 NOT_FOUND: Queue does not exist. If you just created the queue, wait at least a minute for the queue to initialize. (at callErrorFromStatus in @grpc/grpc-js/build/src/call.js ← Object.onReceiveStatus in @grpc/grpc-js/build/src/client.js ← process.processTicksAndRejections in node:internal/process/task_queues)"
    );
}

#[test]
fn node_anonymous_and_async_frames() {
    let m = "TypeError: x is not a function\n    at /workspace/index.js:10:5\n    at async handler (/workspace/src/h.js:3:1)";
    assert_eq!(
        sig(m),
        "TypeError: x is not a function (at <anonymous> in index.js ← handler in src/h.js)"
    );
}

#[test]
fn node_error_with_its_properties_after_the_frames() {
    let m = "Error: connect ECONNREFUSED 10.0.0.5:5432\n    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1595:16) {\n  errno: -111,\n  code: 'ECONNREFUSED',\n  port: 5432\n}";
    assert_eq!(
        sig(m),
        "Error: connect ECONNREFUSED 10.0.0.5:5432 (at TCPConnectWrap.afterConnect [as oncomplete] in node:net)"
    );
}

#[test]
fn java_trace_with_thread_prefix_and_preamble() {
    let m = "Request failed\nException in thread \"main\" java.lang.IllegalStateException: pool closed\n\tat com.acme.db.Pool.get(Pool.java:12)\n\tat com.acme.api.Orders.create(Orders.java:88)\n\tat java.base/java.lang.Thread.run(Thread.java:833)\nCaused by: java.io.IOException: reset\n\tat com.acme.net.Conn.read(Conn.java:5)\n\t... 3 more";
    assert_eq!(
        sig(m),
        "Request failed — java.io.IOException: reset (at com.acme.net.Conn.read in Conn.java) → java.lang.IllegalStateException"
    );
}

#[test]
fn go_panic_with_goroutine_frames() {
    let m = "panic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a1f2b]\n\ngoroutine 1 [running]:\nmain.(*Server).handle(0x0, {0x1, 0x2})\n\t/app/server.go:42 +0x1b\nmain.main()\n\t/app/main.go:12 +0x25\nexit status 2";
    assert_eq!(
        sig(m),
        "panic: runtime error: invalid memory address or nil pointer dereference (at main.(*Server).handle in server.go ← main.main in main.go)"
    );
}

/// The frames the runtime raised the panic in are not where it happened; `created by` is
/// where the goroutine started, no frame of it.
#[test]
fn go_panic_is_titled_by_the_top_frame_below_the_runtime() {
    let m = "panic: assignment to entry in nil map\n\ngoroutine 7 [running]:\npanic({0x6c3e40?, 0x9a8b30?})\n\t/usr/local/go/src/runtime/panic.go:914 +0x21f\nruntime.mapassign_faststr(0x0?, 0x0?, {0x70b7f1, 0x3})\n\t/usr/local/go/src/runtime/map_faststr.go:205 +0x3d3\ngithub.com/acme/shipper/internal/rates.(*Cache).Put(...)\n\t/src/internal/rates/cache.go:31\ncreated by net/http.(*Server).Serve in goroutine 1\n\t/usr/local/go/src/net/http/server.go:3285 +0x4b4";
    assert_eq!(
        sig(m),
        "panic: assignment to entry in nil map (at rates.(*Cache).Put in cache.go)"
    );
    // Only runtime frames: they are kept rather than none.
    let m = "fatal error: stack overflow\n\ngoroutine 1 [running]:\nruntime.morestack()\n\t/usr/local/go/src/runtime/asm_amd64.s:570 +0x8b";
    assert_eq!(
        sig(m),
        "fatal error: stack overflow (at runtime.morestack in asm_amd64.s)"
    );
}

/// Node's uncaught exception starts with where it was thrown and the source line: the title
/// is the exception, as for the same error logged without them.
#[test]
fn node_uncaught_exception_is_titled_by_its_exception_not_its_location() {
    let m = "/app/src/routes/checkout.js:42\n    const id = session.user.id;\n                            ^\n\nTypeError: Cannot read properties of undefined (reading 'id')\n    at /app/src/routes/checkout.js:42:29\n    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)\n\nNode.js v20.11.0";
    let logged = "TypeError: Cannot read properties of undefined (reading 'id')\n    at /app/src/routes/checkout.js:42:29\n    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)";
    assert_eq!(sig(m), sig(logged));
    assert!(
        sig(m).starts_with("TypeError: Cannot read properties"),
        "{}",
        sig(m)
    );
}

/// A rejection with a value that is not an Error has no stack; the fixed explanation Node puts
/// before its reason is dropped from the title, and any inspected error is titled by itself.
#[test]
fn node_inspected_errors_are_titled_by_what_differs() {
    let m = "node:internal/process/promises:288\n            triggerUncaughtException(err, true /* fromPromise */);\n            ^\n\n[UnhandledPromiseRejection: This error originated either by throwing inside of an async function without a catch block, or by rejecting a promise which was not handled with .catch(). The promise rejected with the reason \"Database connection failed\".] {\n  code: 'ERR_UNHANDLED_REJECTION'\n}\n\nNode.js v18.19.0";
    assert_eq!(
        sig(m),
        "UnhandledPromiseRejection: The promise rejected with the reason \"Database connection failed\"."
    );
    let m = "Config load failed\n[Error: ENOENT: no such file or directory, open '/app/config.json'] {\n  errno: -2,\n  code: 'ENOENT'\n}";
    assert_eq!(
        sig(m),
        "Config load failed — Error: ENOENT: no such file or directory, open '/app/config.json'"
    );
    assert_eq!(inspected_error("[INFO] started"), None);
    assert_eq!(inspected_error("[ERROR: x]"), None);
    assert_eq!(inspected_error("  [cause]: Error: x"), None);
}

const GROUP: &str = "  + Exception Group Traceback (most recent call last):\n  |   File \"/app/worker/main.py\", line 30, in sync_all\n  |     async with asyncio.TaskGroup() as tg:\n  |   File \"/usr/local/lib/python3.11/asyncio/taskgroups.py\", line 147, in __aexit__\n  |     raise me from None\n  | ExceptionGroup: unhandled errors in a TaskGroup (1 sub-exception)\n  +-+---------------- 1 ----------------\n    | Traceback (most recent call last):\n    |   File \"/app/worker/sync.py\", line 18, in fetch_inventory\n    |     raise ConnectionError(\"inventory API unreachable\")\n    | ConnectionError: inventory API unreachable\n    +------------------------------------";

/// Python 3.11's exception group: the root cause is the first sub-exception, with its frames;
/// the group is named after it, as the end of a chain is.
#[test]
fn an_exception_group_is_titled_by_its_first_sub_exception() {
    assert_eq!(
        sig(GROUP),
        "ConnectionError: inventory API unreachable (at fetch_inventory in worker/sync.py) → ExceptionGroup"
    );
    // Logged with a message before it (`logger.exception`), the message leads.
    assert_eq!(
        sig(&format!("Inventory sync failed\n{GROUP}")),
        format!("Inventory sync failed — {}", sig(GROUP))
    );
    // Sub-exceptions grouped without being raised print no trace: the group's frames stand.
    let bare = "  + Exception Group Traceback (most recent call last):\n  |   File \"/app/jobs.py\", line 9, in run\n  |     raise ExceptionGroup(\"checks failed\", errors)\n  | ExceptionGroup: checks failed (2 sub-exceptions)\n  +-+---------------- 1 ----------------\n    | ValueError: bad row 3\n    +---------------- 2 ----------------\n    | ValueError: bad row 9\n    +------------------------------------";
    assert_eq!(
        sig(bare),
        "ValueError: bad row 3 (at run in jobs.py) → ExceptionGroup"
    );
    // A group nested in a group: the first plain trace inside is the root.
    let nested = "  + Exception Group Traceback (most recent call last):\n  |   File \"/app/a.py\", line 1, in main\n  | ExceptionGroup: outer (1 sub-exception)\n  +-+---------------- 1 ----------------\n    | Exception Group Traceback (most recent call last):\n    |   File \"/app/a.py\", line 5, in inner\n    | ExceptionGroup: inner (1 sub-exception)\n    +-+---------------- 1 ----------------\n      | Traceback (most recent call last):\n      |   File \"/app/b.py\", line 7, in leaf\n      | KeyError: 'sku'\n      +------------------------------------";
    assert_eq!(
        sig(nested),
        "KeyError: 'sku' (at leaf in b.py) → ExceptionGroup"
    );
}

#[test]
fn plain_text_is_returned_borrowed() {
    for m in [
        "Session access failed (middleware not installed?)",
        "two\nlines without a trace",
        "goroutine count high\nno panic here",
        "",
    ] {
        assert!(matches!(signature(m), Cow::Borrowed(b) if b == m), "{m:?}");
    }
}

#[test]
fn windows_line_endings_parse_the_same() {
    assert_eq!(
        sig(&ERROR_REPORTING.replace('\n', "\r\n")),
        sig(ERROR_REPORTING)
    );
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn one_line_text_is_unchanged(s in "[^\n]{0,200}") {
            prop_assert!(matches!(signature(&s), Cow::Borrowed(b) if b == s));
        }

        #[test]
        fn trace_like_text_never_panics(
            lines in proptest::collection::vec(
                prop_oneof![
                    Just("Traceback (most recent call last):".to_owned()),
                    Just("goroutine 1 [running]:".to_owned()),
                    Just("panic: boom".to_owned()),
                    "  File \"[a-z/]{0,12}\", line [0-9]{1,3}, in [a-z_]{0,8}",
                    "\tat [a-zA-Z.()]{0,20}(:[0-9]{1,3})?\\)?",
                    "\t/[a-z/]{0,10}\\.go:[0-9]{1,3} \\+0x[0-9a-f]{1,4}",
                    "[a-zA-Z.(*)]{0,12}\\(?",
                    "[A-Za-z]{0,10}Error: .{0,20}",
                    ".{0,30}",
                ],
                0..12,
            )
        ) {
            let _ = signature(&lines.join("\n"));
        }
    }
}
