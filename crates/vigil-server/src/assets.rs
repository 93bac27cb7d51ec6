//! The files of the web app that `vigil serve` serves: URL path, content type, body.

pub const ASSETS: &[(&str, &str, &str)] = &[
    (
        "/",
        "text/html; charset=utf-8",
        include_str!("../web/index.html"),
    ),
    (
        "/favicon.svg",
        "image/svg+xml",
        include_str!("../web/favicon.svg"),
    ),
    (
        "/assets/app.css",
        "text/css; charset=utf-8",
        include_str!("../web/app.css"),
    ),
    (
        "/assets/js/admin.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/js/admin.js"),
    ),
    (
        "/assets/js/api.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/js/api.js"),
    ),
    (
        "/assets/js/app.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/js/app.js"),
    ),
    (
        "/assets/js/chart.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/js/chart.js"),
    ),
    (
        "/assets/js/chat.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/js/chat.js"),
    ),
    (
        "/assets/js/dom.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/js/dom.js"),
    ),
    (
        "/assets/js/hunt.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/js/hunt.js"),
    ),
    (
        "/assets/js/incidents.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/js/incidents.js"),
    ),
    (
        "/assets/js/kql.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/js/kql.js"),
    ),
    (
        "/assets/js/markdown.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/js/markdown.js"),
    ),
    (
        "/assets/js/plugins.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/js/plugins.js"),
    ),
    (
        "/assets/js/promptbooks.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/js/promptbooks.js"),
    ),
    (
        "/assets/js/sessions.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/js/sessions.js"),
    ),
    (
        "/assets/js/table.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/js/table.js"),
    ),
    (
        "/assets/js/turn.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/js/turn.js"),
    ),
];
