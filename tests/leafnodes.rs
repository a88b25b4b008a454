//! Leaf nodes: a tern leaf connected to a tern hub, and each side mixed
//! with the reference nats-server. Messages cross both ways (plain, queue
//! groups, request/reply), a leaf with the wrong password is refused, and
//! a client of the hub reaches the leaf's JetStream through its domain.

mod harness;

use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use harness::procs::{self, reference_binary, tern_binary, Proc};
use harness::{connect, free_port, within_for};

/// A hub taking leaf nodes on `leaf_port` from user `leaf`/`pw`.
async fn hub(bin: &Path, dir: &Path, name: &str, leaf_port: u16) -> Proc {
    hub_with(bin, dir, name, leaf_port, &[]).await
}

async fn hub_with(bin: &Path, dir: &Path, name: &str, leaf_port: u16, extra: &[&str]) -> Proc {
    let conf = dir.join(format!("{name}.conf"));
    std::fs::write(
        &conf,
        format!(
            "leafnodes {{\n  listen: \"127.0.0.1:{leaf_port}\"\n  authorization {{ user: leaf, password: pw }}\n}}\n"
        ),
    )
    .expect("conf");
    let mut args = vec!["-c".to_string(), conf.display().to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    procs::spawn(bin, dir, name, free_port(), &args).await
}

/// A leaf of the hub on `leaf_port`, with `extra` config lines.
async fn leaf(
    bin: &Path,
    dir: &Path,
    name: &str,
    leaf_port: u16,
    password: &str,
    extra: &str,
) -> Proc {
    let conf = format!(
        "{extra}\nleafnodes {{\n  remotes [ {{ url: \"nats-leaf://leaf:{password}@127.0.0.1:{leaf_port}\" }} ]\n}}\n"
    );
    procs::spawn_conf(bin, dir, name, &conf).await
}

/// Messages cross the leaf connection both ways, once each; a queue
/// group on the hub takes each message once; request/reply crosses.
async fn exchange(hub: &Proc, leaf: &Proc) {
    let (h, l) = (connect(hub.client).await, connect(leaf.client).await);
    let mut on_hub = h.subscribe("to.hub").await.expect("sub");
    let mut on_leaf = l.subscribe("to.leaf").await.expect("sub");
    h.flush().await.expect("flush");
    l.flush().await.expect("flush");
    procs::until_routed(&l, "to.hub", &mut on_hub).await;
    procs::until_routed(&h, "to.leaf", &mut on_leaf).await;
    for i in 0..30 {
        l.publish("to.hub", format!("{i}").into())
            .await
            .expect("pub");
        h.publish("to.leaf", format!("{i}").into())
            .await
            .expect("pub");
    }
    l.flush().await.expect("flush");
    h.flush().await.expect("flush");
    assert_eq!(procs::count(&mut on_hub).await, 30, "leaf -> hub");
    assert_eq!(procs::count(&mut on_leaf).await, 30, "hub -> leaf");
    // A queue group with members on the hub only, fed from the leaf.
    let mut members = vec![
        h.queue_subscribe("work", "g".into()).await.expect("q"),
        h.queue_subscribe("work", "g".into()).await.expect("q"),
    ];
    let mut watcher = h.subscribe("work").await.expect("sub");
    h.flush().await.expect("flush");
    procs::until_routed(&l, "work", &mut watcher).await;
    for m in &mut members {
        while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(50), m.next()).await {}
    }
    for i in 0..100 {
        l.publish("work", format!("{i}").into()).await.expect("pub");
    }
    l.flush().await.expect("flush");
    let mut total = 0;
    for m in &mut members {
        total += procs::count(m).await;
    }
    assert_eq!(total, 100, "queue group across the leaf connection");
    // Request/reply: the responder on the leaf.
    let mut service = l.subscribe("svc").await.expect("sub");
    l.flush().await.expect("flush");
    let responder = l.clone();
    let answering = tokio::spawn(async move {
        while let Some(req) = service.next().await {
            if let Some(reply) = req.reply {
                let _ = responder.publish(reply, req.payload).await;
                let _ = responder.flush().await;
            }
        }
    });
    let reply = within_for(Duration::from_secs(10), "request across the leaf", async {
        loop {
            match h.request("svc", "ping".into()).await {
                Ok(m) => return m,
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    })
    .await;
    assert_eq!(&reply.payload[..], b"ping");
    answering.abort();
}

#[tokio::test]
async fn a_tern_leaf_and_a_tern_hub_exchange_messages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = tern_binary();
    let port = free_port();
    let monitor = free_port();
    let h = hub_with(&bin, dir.path(), "hub", port, &["-m", &monitor.to_string()]).await;
    let l = leaf(&bin, dir.path(), "leaf", port, "pw", "").await;
    procs::until_logged(&h, "Leafnode connection created", 0).await;
    procs::until_logged(&l, "Leafnode connection created for account: $G", 0).await;
    exchange(&h, &l).await;
    // Monitoring on the hub: the leaf, its account and its interest.
    let leafz = procs::http_json(monitor, "/leafz?subs=1").await;
    assert_eq!(leafz["leafnodes"], 1, "{leafz}");
    let one = &leafz["leafs"][0];
    assert_eq!(
        (one["name"].as_str(), one["is_spoke"].as_bool()),
        (Some("leaf"), Some(false))
    );
    assert_eq!(one["account"], "$G");
    assert!(one["in_msgs"].as_u64().unwrap_or(0) >= 130, "{leafz}");
    let varz = procs::http_json(monitor, "/varz").await;
    assert_eq!(varz["leafnodes"], 1);
    assert_eq!(varz["leaf"]["port"], port);
    // A leaf with the wrong password is refused.
    let _bad = leaf(&bin, dir.path(), "bad", port, "nope", "").await;
    procs::until_logged(&h, "Authorization Violation", 0).await;
}

#[tokio::test]
async fn leafs_and_hubs_interoperate_with_the_reference() {
    let Some(reference) = reference_binary() else {
        eprintln!("reference nats-server not installed: skipped");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let tern = tern_binary();
    // tern leaf, nats-server hub.
    let port = free_port();
    let h = hub(&reference, dir.path(), "ref-hub", port).await;
    let l = leaf(&tern, dir.path(), "tern-leaf", port, "pw", "").await;
    procs::until_logged(&l, "Leafnode connection created for account: $G", 0).await;
    exchange(&h, &l).await;
    drop((h, l));
    // nats-server leaf, tern hub.
    let port = free_port();
    let h = hub(&tern, dir.path(), "tern-hub", port).await;
    let l = leaf(&reference, dir.path(), "ref-leaf", port, "pw", "").await;
    procs::until_logged(&h, "Leafnode connection created", 0).await;
    exchange(&h, &l).await;
}

#[tokio::test]
async fn the_hub_reaches_the_leafs_jetstream_through_its_domain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = tern_binary();
    let port = free_port();
    let h = hub(&bin, dir.path(), "hub", port).await;
    let store = dir.path().join("edge-store");
    let l = leaf(
        &bin,
        dir.path(),
        "edge",
        port,
        "pw",
        &format!(
            "jetstream {{ store_dir: {:?}, domain: edge }}",
            store.display().to_string()
        ),
    )
    .await;
    procs::until_logged(&l, "Leafnode connection created for account: $G", 0).await;
    let client = connect(h.client).await;
    let js = async_nats::jetstream::with_domain(client, "edge");
    let stream = within_for(Duration::from_secs(10), "stream on the leaf", async {
        loop {
            match js
                .get_or_create_stream(async_nats::jetstream::stream::Config {
                    name: "EDGE".into(),
                    subjects: vec!["edge.>".into()],
                    ..Default::default()
                })
                .await
            {
                Ok(s) => return s,
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    })
    .await;
    assert_eq!(stream.cached_info().config.name, "EDGE");
    let ack = within_for(
        Duration::from_secs(10),
        "publish acked by the leaf",
        async {
            loop {
                if let Ok(ack) = js.publish("edge.one", "1".into()).await {
                    if let Ok(ack) = ack.await {
                        return ack;
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        },
    )
    .await;
    assert_eq!(ack.stream, "EDGE");
    let mut stream = js.get_stream("EDGE").await.expect("stream info");
    assert!(stream.info().await.expect("info").state.messages >= 1);
    let account = js.query_account().await.expect("account info");
    assert_eq!(account.domain.as_deref(), Some("edge"));
    // The leaf's own clients see the same stream, with the domain or not.
    let leaf_client = connect(l.client).await;
    let local = async_nats::jetstream::new(leaf_client.clone());
    assert!(local.get_stream("EDGE").await.is_ok());
    let by_domain = async_nats::jetstream::with_domain(leaf_client, "edge");
    assert!(by_domain.get_stream("EDGE").await.is_ok());
}

#[tokio::test]
async fn a_loop_of_leaf_connections_is_found_and_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = tern_binary();
    let (pa, pb) = (free_port(), free_port());
    // A and B are each other's hub and leaf.
    let conf = |name: &str, listen: u16, remote: u16| {
        let path = dir.path().join(format!("{name}.conf"));
        std::fs::write(
            &path,
            format!(
                "leafnodes {{\n  listen: \"127.0.0.1:{listen}\"\n  remotes [ {{ url: \"nats-leaf://127.0.0.1:{remote}\" }} ]\n}}\n"
            ),
        )
        .expect("conf");
        vec!["-c".to_string(), path.display().to_string()]
    };
    let a = procs::spawn(&bin, dir.path(), "A", free_port(), &conf("A", pa, pb)).await;
    let b = procs::spawn(&bin, dir.path(), "B", free_port(), &conf("B", pb, pa)).await;
    let found = "Loop detected for leafnode account=\"$G\"";
    within_for(Duration::from_secs(10), "the loop found", async {
        loop {
            let logs = [&a, &b]
                .iter()
                .map(|p| std::fs::read_to_string(&p.log).unwrap_or_default())
                .collect::<String>();
            if logs.contains(found) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn deny_lists_keep_subjects_on_their_side() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = tern_binary();
    let port = free_port();
    let h = hub(&bin, dir.path(), "hub", port).await;
    let l = procs::spawn_conf(&bin, dir.path(), "leaf", &format!(
            "leafnodes {{\n  remotes [ {{ url: \"nats-leaf://leaf:pw@127.0.0.1:{port}\", deny_imports: [\"secret.in\"], deny_exports: [\"secret.out\"] }} ]\n}}\n"
        )).await;
    procs::until_logged(&l, "Leafnode connection created for account: $G", 0).await;
    let (hc, lc) = (connect(h.client).await, connect(l.client).await);
    // Allowed subjects cross both ways...
    let mut open_on_hub = hc.subscribe("open").await.expect("sub");
    let mut secret_out = hc.subscribe("secret.out").await.expect("sub");
    let mut open_on_leaf = lc.subscribe("open.back").await.expect("sub");
    let mut secret_in = lc.subscribe("secret.in").await.expect("sub");
    hc.flush().await.expect("flush");
    lc.flush().await.expect("flush");
    procs::until_routed(&lc, "open", &mut open_on_hub).await;
    procs::until_routed(&hc, "open.back", &mut open_on_leaf).await;
    // ...denied ones do not.
    for _ in 0..10 {
        lc.publish("secret.out", "x".into()).await.expect("pub");
        hc.publish("secret.in", "x".into()).await.expect("pub");
    }
    lc.flush().await.expect("flush");
    hc.flush().await.expect("flush");
    assert_eq!(procs::count(&mut secret_out).await, 0, "deny_exports");
    assert_eq!(procs::count(&mut secret_in).await, 0, "deny_imports");
}

#[tokio::test]
async fn a_hub_gives_queue_messages_to_its_own_members_before_a_leafs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = tern_binary();
    let port = free_port();
    let h = hub(&bin, dir.path(), "hub", port).await;
    let l = leaf(&bin, dir.path(), "leaf", port, "pw", "").await;
    procs::until_logged(&l, "Leafnode connection created for account: $G", 0).await;
    let (hc, lc) = (connect(h.client).await, connect(l.client).await);
    let mut on_leaf = lc.queue_subscribe("jobs", "g".into()).await.expect("q");
    let mut watcher = lc.subscribe("jobs").await.expect("sub");
    lc.flush().await.expect("flush");
    procs::until_routed(&hc, "jobs", &mut watcher).await;
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(50), on_leaf.next()).await {}
    let mut on_hub = hc.queue_subscribe("jobs", "g".into()).await.expect("q");
    hc.flush().await.expect("flush");
    for i in 0..50 {
        hc.publish("jobs", format!("{i}").into())
            .await
            .expect("pub");
    }
    hc.flush().await.expect("flush");
    assert_eq!(procs::count(&mut on_hub).await, 50, "the hub's member");
    assert_eq!(procs::count(&mut on_leaf).await, 0, "the leaf's member");
}

#[tokio::test]
async fn a_tern_leaf_signs_in_to_an_operator_mode_hub_with_credentials() {
    if let Some(reference) = reference_binary() {
        operator_hub_takes_a_tern_leaf(&reference, "ref-hub").await;
    } else {
        eprintln!("reference nats-server not installed: tern hub only");
    }
    operator_hub_takes_a_tern_leaf(&tern_binary(), "tern-hub").await;
}

/// An operator-mode hub (`hub_bin`) and a tern leaf signing in with a
/// user's `.creds`: a client of the account on the hub receives what a
/// client of the leaf publishes.
async fn operator_hub_takes_a_tern_leaf(hub_bin: &Path, hub_name: &str) {
    use harness::creds::{creds, issue};
    use serde_json::json;
    let dir = tempfile::tempdir().expect("tempdir");
    let operator = nkeys::KeyPair::new_operator();
    let account = nkeys::KeyPair::new_account();
    let op = issue(
        &operator,
        &operator.public_key(),
        "operator",
        json!({}),
        None,
    );
    let acc = issue(
        &operator,
        &account.public_key(),
        "account",
        json!({"limits": {"subs": -1, "conn": -1, "leaf": -1, "payload": -1, "data": -1}}),
        None,
    );
    let user_creds = |name: &str| {
        let user = nkeys::KeyPair::new_user();
        let jwt = issue(
            &account,
            &user.public_key(),
            "user",
            json!({"subs": -1, "data": -1, "payload": -1}),
            None,
        );
        let path = dir.path().join(format!("{name}.creds"));
        std::fs::write(&path, creds(&jwt, &user.seed().expect("seed"))).expect("creds");
        path
    };
    let (leaf_creds, client_creds) = (user_creds("leaf"), user_creds("client"));
    let op_path = dir.path().join("op.jwt");
    std::fs::write(&op_path, op).expect("op");
    let port = free_port();
    let h = procs::spawn_conf(hub_bin, dir.path(), hub_name, &format!(
            "operator: {:?}\nresolver: MEMORY\nresolver_preload: {{ {}: {:?} }}\nleafnodes {{ listen: \"127.0.0.1:{port}\" }}\n",
            op_path.display().to_string(),
            account.public_key(),
            acc
        )).await;
    let l = procs::spawn_conf(&tern_binary(), dir.path(), "tern-leaf", &format!(
            "leafnodes {{ remotes [ {{ url: \"nats-leaf://127.0.0.1:{port}\", credentials: {:?} }} ] }}\n",
            leaf_creds.display().to_string()
        )).await;
    procs::until_logged(&l, "Leafnode connection created for account: $G", 0).await;
    // A client of the hub's account and one of the leaf exchange messages.
    let hc = within_for(
        Duration::from_secs(10),
        "hub client",
        async_nats::ConnectOptions::with_credentials_file(client_creds)
            .await
            .expect("creds")
            .connect(harness::url(h.client)),
    )
    .await
    .expect("connect");
    let lc = connect(l.client).await;
    let mut on_hub = hc.subscribe("signed.in").await.expect("sub");
    hc.flush().await.expect("flush");
    procs::until_routed(&lc, "signed.in", &mut on_hub).await;
}

#[tokio::test]
async fn leaf_connections_run_over_tls_both_ways_with_the_reference() {
    let certs = harness::certs::server_certs();
    let dir = tempfile::tempdir().expect("tempdir");
    let hub_tls = format!(
        "  tls {{ cert_file: \"{}\", key_file: \"{}\" }}\n",
        certs.cert.display(),
        certs.key.display()
    );
    let remote_tls = format!("tls {{ ca_file: \"{}\" }}", certs.ca.display());
    let tls_hub = |bin: std::path::PathBuf, name: &'static str, port: u16| {
        let conf = format!("leafnodes {{\n  listen: \"127.0.0.1:{port}\"\n  authorization {{ user: leaf, password: pw }}\n{hub_tls}}}\n");
        let dir = dir.path().to_path_buf();
        async move { procs::spawn_conf(&bin, &dir, name, &conf).await }
    };
    let tls_leaf = |bin: std::path::PathBuf, name: &'static str, port: u16, tls: &str| {
        let conf = format!("leafnodes {{\n  remotes [ {{ url: \"nats-leaf://leaf:pw@127.0.0.1:{port}\", {tls} }} ]\n}}\n");
        let dir = dir.path().to_path_buf();
        async move { procs::spawn_conf(&bin, &dir, name, &conf).await }
    };
    let tern = tern_binary();
    // tern leaf, tern hub.
    let port = free_port();
    let h = tls_hub(tern.clone(), "tern-hub", port).await;
    let l = tls_leaf(tern.clone(), "tern-leaf", port, &remote_tls).await;
    procs::until_logged(&l, "Leafnode connection created for account: $G", 0).await;
    exchange(&h, &l).await;
    // A leaf without TLS settings is told why it cannot join.
    let plain = leaf(&tern, dir.path(), "plain-leaf", port, "pw", "").await;
    procs::until_logged(&plain, "Leafnode hub requires TLS", 0).await;
    drop((h, l, plain));
    let Some(reference) = reference_binary() else {
        eprintln!("reference nats-server not installed: mixed pairs skipped");
        return;
    };
    // tern leaf, nats-server hub.
    let port = free_port();
    let h = tls_hub(reference.clone(), "ref-hub", port).await;
    let l = tls_leaf(tern.clone(), "tern-leaf2", port, &remote_tls).await;
    procs::until_logged(&l, "Leafnode connection created for account: $G", 0).await;
    exchange(&h, &l).await;
    drop((h, l));
    // nats-server leaf, tern hub.
    let port = free_port();
    let h = tls_hub(tern, "tern-hub2", port).await;
    let l = tls_leaf(reference, "ref-leaf", port, &remote_tls).await;
    procs::until_logged(&h, "Leafnode connection created", 0).await;
    exchange(&h, &l).await;
}

#[tokio::test]
async fn a_hub_without_leaf_authorization_binds_each_leaf_to_its_users_account() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = tern_binary();
    let port = free_port();
    let h = procs::spawn_conf(&bin, dir.path(), "hub", &format!(
            "accounts {{\n  A {{ users [ {{ user: edge, password: pw }}, {{ user: app, password: pw }} ] }}\n  B {{ users [ {{ user: other, password: pw }} ] }}\n}}\nleafnodes {{ listen: \"127.0.0.1:{port}\" }}\n"
        )).await;
    let l = leaf(&bin, dir.path(), "leaf", port, "pw", "").await;
    // `leaf` signs in as user "leaf", which the hub does not know.
    procs::until_logged(&h, "Leafnode Authorization Violation", 0).await;
    drop(l);
    let l = procs::spawn_conf(
        &bin,
        dir.path(),
        "edge",
        &format!(
            "leafnodes {{\n  remotes [ {{ url: \"nats-leaf://edge:pw@127.0.0.1:{port}\" }} ]\n}}\n"
        ),
    )
    .await;
    procs::until_logged(&h, "Leafnode connection created", 0).await;
    let as_user = |user: &'static str| {
        async_nats::ConnectOptions::with_user_and_password(user.into(), "pw".into())
    };
    let app = harness::connect_with(h.client, as_user("app")).await;
    let other = harness::connect_with(h.client, as_user("other")).await;
    let mut in_a = app.subscribe("edge.data").await.expect("sub");
    let mut in_b = other.subscribe("edge.data").await.expect("sub");
    app.flush().await.expect("flush");
    other.flush().await.expect("flush");
    let lc = connect(l.client).await;
    procs::until_routed(&lc, "edge.data", &mut in_a).await;
    // Account B on the hub never sees the leaf's traffic.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), in_b.next())
            .await
            .is_err(),
        "account B got a message of the leaf bound to A"
    );
}

#[tokio::test]
async fn leafnode_authorization_users_bind_each_leaf_to_its_account() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = tern_binary();
    let port = free_port();
    let h = procs::spawn_conf(&bin, dir.path(), "hub", &format!(
            "accounts {{\n  A {{ users [ {{ user: app, password: pw }} ] }}\n}}\nleafnodes {{\n  listen: \"127.0.0.1:{port}\"\n  authorization {{ users [ {{ user: edge, password: pw, account: A }} ] }}\n}}\n"
        )).await;
    let l = procs::spawn_conf(&bin, dir.path(), "edge", &format!("leafnodes {{\n  reconnect: \"200ms\"\n  remotes [ {{ url: \"nats-leaf://edge:pw@127.0.0.1:{port}\" }} ]\n}}\n")).await;
    procs::until_logged(&h, "Leafnode connection created", 0).await;
    let app = harness::connect_with(
        h.client,
        async_nats::ConnectOptions::with_user_and_password("app".into(), "pw".into()),
    )
    .await;
    let mut in_a = app.subscribe("edge.data").await.expect("sub");
    app.flush().await.expect("flush");
    let lc = connect(l.client).await;
    procs::until_routed(&lc, "edge.data", &mut in_a).await;
    // A leaf signing in as nobody in the list is refused.
    let _bad = leaf(&bin, dir.path(), "bad", port, "pw", "").await;
    procs::until_logged(&h, "Leafnode Authorization Violation", 0).await;
}
