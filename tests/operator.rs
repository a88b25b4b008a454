//! Operator mode through async-nats: an operator JWT file, account JWTs in
//! a resolver directory (`resolver { type: full, dir }`), and users
//! connecting with `.creds` files as nsc writes them.

mod harness;

use std::path::Path;

use serde_json::json;
use tern::{Options, Running};

use harness::creds::{creds, issue};
use harness::{connect_with, round_trip, start_with, url};

struct Setup {
    _dir: tempfile::TempDir,
    server: Running,
    account: nkeys::KeyPair,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let operator = nkeys::KeyPair::new_operator();
    let account = nkeys::KeyPair::new_account();
    let op_path = dir.path().join("op.jwt");
    std::fs::write(
        &op_path,
        issue(
            &operator,
            &operator.public_key(),
            "operator",
            json!({}),
            None,
        ),
    )
    .unwrap();
    let jwts = dir.path().join("jwt");
    std::fs::create_dir(&jwts).unwrap();
    let account_jwt = issue(
        &operator,
        &account.public_key(),
        "account",
        json!({"limits": {"subs": -1, "conn": -1, "payload": -1, "data": -1}}),
        None,
    );
    std::fs::write(
        jwts.join(format!("{}.jwt", account.public_key())),
        account_jwt,
    )
    .unwrap();
    let conf = format!(
        "operator: \"{}\"\nresolver: {{ type: full, dir: \"{}\" }}\n",
        op_path.display(),
        jwts.display()
    );
    let mut opts = Options::loopback();
    tern::config::apply_str(&mut opts, &conf, "operator.conf").unwrap();
    assert!(opts.auth.trust.is_some());
    Setup {
        server: start_with(opts).await,
        account,
        _dir: dir,
    }
}

fn user_creds(s: &Setup, dir: &Path, exp: Option<i64>) -> std::path::PathBuf {
    let user = nkeys::KeyPair::new_user();
    let jwt = issue(
        &s.account,
        &user.public_key(),
        "user",
        json!({"subs": -1, "data": -1, "payload": -1}),
        exp,
    );
    let path = dir.join(format!("{}.creds", user.public_key()));
    std::fs::write(&path, creds(&jwt, &user.seed().unwrap())).unwrap();
    path
}

#[tokio::test]
async fn users_connect_with_creds_files() {
    let s = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let path = user_creds(&s, dir.path(), None);
    let opts = async_nats::ConnectOptions::with_credentials_file(path)
        .await
        .unwrap();
    let client = connect_with(s.server.addr(), opts).await;
    round_trip(&client).await;
    // Expired credentials are refused.
    let path = user_creds(&s, dir.path(), Some(1_700_000_001));
    let err = async_nats::ConnectOptions::with_credentials_file(path)
        .await
        .unwrap()
        .connect(url(s.server.addr()))
        .await
        .expect_err("expired credentials are refused");
    assert!(
        err.to_string().to_lowercase().contains("authorization"),
        "{err}"
    );
}

#[tokio::test]
async fn a_user_of_an_unknown_account_is_refused() {
    let s = setup().await;
    let stranger = nkeys::KeyPair::new_account();
    let user = nkeys::KeyPair::new_user();
    let jwt = issue(&stranger, &user.public_key(), "user", json!({}), None);
    let opts =
        async_nats::ConnectOptions::with_credentials(&creds(&jwt, &user.seed().unwrap())).unwrap();
    let err = opts
        .connect(url(s.server.addr()))
        .await
        .expect_err("refused");
    assert!(
        err.to_string().to_lowercase().contains("authorization"),
        "{err}"
    );
}
