use std::collections::HashSet;

use super::*;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn config(bucket: &str) -> String {
    format!(
        "[[buckets]]\nname = \"{bucket}\"\nbackend_type = \"s3\"\n\
         [buckets.backend_options]\nendpoint = \"http://127.0.0.1:9\"\n\
         bucket_name = \"b\"\nregion = \"us-east-1\"\n"
    )
}

fn doc(text: &str) -> Documents {
    Documents::Read(vec![Document {
        name: "gw.toml".to_string(),
        format: ConfigFormat::Toml,
        text: text.to_string(),
    }])
}

fn isolate(ttl: Option<Duration>) -> Isolate {
    let mut options = Options::default();
    options.config_ttl = ttl;
    Isolate::new(options, 7)
}

fn bucket(loaded: Loaded) -> String {
    match loaded {
        Loaded::Installed { gateway, .. } => gateway.config().buckets[0].name.clone(),
        other => panic!("expected a new snapshot, got {other:?}"),
    }
}

fn served(i: &Isolate) -> String {
    i.current().unwrap().config().buckets[0].name.clone()
}

#[test]
fn the_first_request_loads_then_requests_are_served_until_the_ttl_expires() {
    let i = isolate(Some(secs(60)));
    assert!(matches!(i.due(secs(100)), Due::Load));
    assert_eq!(bucket(i.load(secs(100), doc(&config("one")))), "one");
    assert!(matches!(i.due(secs(159)), Due::Serve(_)));
    // Expired: one request starts the refresh, the others are served meanwhile.
    assert!(matches!(i.due(secs(160)), Due::Refresh(_)));
    assert!(matches!(i.due(secs(161)), Due::Serve(_)));
    assert_eq!(bucket(i.load(secs(162), doc(&config("two")))), "two");
    assert_eq!(served(&i), "two");
    assert!(matches!(i.due(secs(163)), Due::Serve(_)));
    assert!(matches!(i.due(secs(222)), Due::Refresh(_)));
    assert_eq!(i.builds(), 2);
}

#[test]
fn the_timer_says_how_long_until_the_next_check() {
    let i = isolate(Some(secs(60)));
    assert_eq!(i.until_due(secs(100)), Some(Duration::ZERO));
    i.load(secs(100), doc(&config("one")));
    assert_eq!(i.until_due(secs(110)), Some(secs(50)));
    assert_eq!(i.until_due(secs(200)), Some(Duration::ZERO));
    i.load(secs(200), Documents::Unchanged);
    assert_eq!(i.until_due(secs(200)), Some(secs(60)));
}

#[test]
fn a_ttl_of_zero_never_refreshes_by_time() {
    let i = isolate(None);
    assert!(matches!(i.due(secs(1)), Due::Load));
    i.load(secs(1), doc(&config("one")));
    for t in [1, 2, 1_000_000] {
        assert!(matches!(i.due(secs(t)), Due::Serve(_)));
    }
    assert_eq!(i.until_due(secs(5)), None);
    // An explicit load (natively, SIGHUP) still applies a change.
    assert_eq!(bucket(i.load(secs(9), doc(&config("two")))), "two");
}

#[test]
fn unchanged_content_is_not_parsed_again() {
    let i = isolate(Some(secs(60)));
    i.load(secs(0), doc(&config("one")));
    for t in 1..5 {
        assert!(matches!(
            i.load(secs(60 * t), doc(&config("one"))),
            Loaded::Unchanged
        ));
    }
    assert!(matches!(
        i.load(secs(400), Documents::Unchanged),
        Loaded::Unchanged
    ));
    assert_eq!(i.builds(), 1);
}

#[test]
fn a_broken_document_keeps_the_last_snapshot_and_is_reported_once() {
    let i = isolate(Some(secs(60)));
    i.load(secs(0), doc(&config("one")));
    let Loaded::Broken {
        problems,
        report: true,
        ..
    } = i.load(secs(60), doc("this is [ not a config"))
    else {
        panic!("a broken document is reported")
    };
    assert!(problems[0].starts_with("gw.toml: "), "{problems:?}");
    assert_eq!(served(&i), "one");
    assert!(matches!(i.gateway(), Ok(g) if g.config().buckets[0].name == "one"));
    // The same content again: not parsed, not reported again, still what is wrong.
    let Loaded::Broken {
        problems: again,
        report: false,
        ..
    } = i.load(secs(120), doc("this is [ not a config"))
    else {
        panic!("known broken")
    };
    assert_eq!(problems, again);
    assert_eq!(i.builds(), 2);
    // Content that parses but does not validate is refused the same way.
    let dup = format!("{}{}", config("one"), config("one"));
    assert!(matches!(
        i.load(secs(180), doc(&dup)),
        Loaded::Broken { report: true, .. }
    ));
    // Fixed back to what is served: nothing to build; then a change builds again.
    assert!(matches!(
        i.load(secs(240), doc(&config("one"))),
        Loaded::Unchanged
    ));
    assert_eq!(bucket(i.load(secs(300), doc(&config("two")))), "two");
}

#[test]
fn an_unreadable_document_keeps_the_snapshot_and_is_reported_once() {
    let i = isolate(Some(secs(60)));
    i.load(secs(0), doc(&config("one")));
    let gone = || Documents::Unreadable("cannot read gw.toml: not found".to_string());
    assert!(matches!(
        i.load(secs(60), gone()),
        Loaded::Broken { report: true, .. }
    ));
    assert!(matches!(
        i.load(secs(120), gone()),
        Loaded::Broken { report: false, .. }
    ));
    assert_eq!(served(&i), "one");
    assert_eq!(bucket(i.load(secs(180), doc(&config("two")))), "two");
}

#[test]
fn a_first_load_that_fails_is_a_503_with_the_reason() {
    let i = isolate(Some(secs(60)));
    assert!(matches!(
        i.load(secs(0), doc("[[buckets]]\nname = 1\n")),
        Loaded::Broken { report: true, .. }
    ));
    let err = i.gateway().unwrap_err();
    assert_eq!(err.code, ErrorCode::ServiceUnavailable);
    assert!(
        err.message
            .starts_with("the gateway has no usable configuration: gw.toml: "),
        "{}",
        err.message
    );
    // Still no snapshot: the next request loads again.
    assert!(matches!(i.due(secs(1)), Due::Load));
    assert_eq!(bucket(i.load(secs(1), doc(&config("one")))), "one");
}

#[test]
fn invalid_settings_refuse_every_request() {
    let i = Isolate::unusable(
        "CONFIG_TTL_SECONDS: 'soon' is not a number of seconds".into(),
        1,
    );
    let Due::Refuse(err) = i.due(secs(0)) else {
        panic!("refused")
    };
    assert_eq!(err.code, ErrorCode::ServiceUnavailable);
    assert!(
        err.message.contains("CONFIG_TTL_SECONDS"),
        "{}",
        err.message
    );
    assert!(matches!(
        i.load(secs(0), doc(&config("one"))),
        Loaded::Broken { .. }
    ));
    assert!(i.current().is_none());
    assert_eq!(i.backend_timeout(), crate::gateway::DEFAULT_BACKEND_TIMEOUT);
}

#[test]
fn unsettled_new_content_is_held_but_known_content_is_recognized() {
    let i = isolate(Some(secs(60)));
    i.load(secs(0), doc(&config("one")));
    let unsettled = |text: &str| {
        Documents::Unsettled(vec![Document {
            name: "gw.toml".into(),
            format: ConfigFormat::Toml,
            text: text.into(),
        }])
    };
    assert!(matches!(
        i.load(secs(1), unsettled(&config("tw"))),
        Loaded::Held
    ));
    assert!(matches!(
        i.load(secs(2), unsettled(&config("one"))),
        Loaded::Unchanged
    ));
    assert_eq!(i.builds(), 1);
    assert_eq!(bucket(i.load(secs(3), doc(&config("two")))), "two");
}

#[test]
fn documents_are_merged_into_the_first_and_problems_name_their_document() {
    let i = isolate(Some(secs(60)));
    let docs = |sts: &str| {
        Documents::Read(vec![
            Document {
                name: "gw.toml".into(),
                format: ConfigFormat::Toml,
                text: config("one"),
            },
            Document {
                name: "sts.json".into(),
                format: ConfigFormat::Json,
                text: sts.into(),
            },
        ])
    };
    let cred = r#"{"credentials": [{"access_key_id": "K", "secret_access_key": "s"}]}"#;
    let Loaded::Installed { gateway, .. } = i.load(secs(0), docs(cred)) else {
        panic!("merged")
    };
    assert_eq!(gateway.config().credentials.len(), 1);
    let Loaded::Broken { problems, .. } = i.load(secs(1), docs("{")) else {
        panic!("broken")
    };
    assert!(
        problems.iter().all(|p| p.starts_with("sts.json: ")),
        "{problems:?}"
    );
}

#[test]
fn request_ids_are_sixteen_uppercase_hex_digits_and_unique() {
    let i = isolate(None);
    let ids: HashSet<String> = (0..10_000).map(|_| i.request_id()).collect();
    assert_eq!(ids.len(), 10_000);
    assert!(ids.iter().all(|id| id.len() == 16
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))));
    // Another (random) seed, other ids.
    let other = Isolate::new(Options::default(), 0x5DEE_CE66_D1CE_4E5B);
    assert!(!ids.contains(&other.request_id()));
}
