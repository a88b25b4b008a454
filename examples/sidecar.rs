//! A service that embeds tern: its settings live in a KV bucket (changes
//! are picked up by a watcher), uploads go to the object store, and it
//! answers requests on subjects. Other processes reach the same server
//! over the network, with any NATS client or the `nats` CLI:
//!
//! ```text
//! cargo run --example sidecar -- 4333 /tmp/sidecar-store
//! nats -s localhost:4333 kv put settings greeting hello
//! nats -s localhost:4333 req greet world           # "hello, world"
//! nats -s localhost:4333 req upload.notes.txt 'some text'
//! nats -s localhost:4333 object get uploads notes.txt
//! ```
//!
//! Ctrl-C stops it: the server shuts down and its data is durable.

use std::sync::Arc;

use parking_lot::RwLock;
use tern::embed::Builder;
use tern::Options;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().map_or(Ok(4333), |p| p.parse())?;
    let store = args
        .next()
        .map_or_else(|| std::env::temp_dir().join("tern-sidecar"), Into::into);

    let server = Builder::new(Options {
        port: tern::config::options::Port::Fixed(port),
        ..Options::loopback()
    })
    .jetstream(&store)
    .start()
    .await?;
    println!(
        "sidecar: NATS on {} (store {})",
        server
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default(),
        store.display()
    );

    // Settings: a KV bucket, read once and then followed by a watcher.
    let settings = server
        .kv()?
        .create_bucket(tern_kv::Config::new("settings"))
        .await?;
    let greeting = Arc::new(RwLock::new(
        settings
            .get("greeting")
            .await?
            .map_or_else(|| "hi".to_string(), |e| text(&e.value)),
    ));
    let mut changes = settings.watch("greeting").await?;
    let current = greeting.clone();
    tokio::spawn(async move {
        while let Some(entry) = changes.next().await {
            let value = text(&entry.value);
            println!("sidecar: greeting is now {value:?}");
            *current.write() = value;
        }
    });

    // Uploads: `upload.<name>` stores the request's payload as an object.
    let uploads = server
        .object_store()?
        .create_bucket(tern_objstore::Config::new("uploads"))
        .await?;
    let client = Arc::new(server.client()?);
    let (_, mut upload_requests) = client.subscribe("upload.>")?;
    let replier = client.clone();
    tokio::spawn(async move {
        while let Some(req) = upload_requests.recv().await {
            let name = req.subject.trim_start_matches("upload.").to_string();
            let meta = tern_objstore::ObjectMeta::named(&name);
            let answer = match uploads.put(meta, &req.payload[..]).await {
                Ok(info) => format!("stored {name}: {} bytes", info.size),
                Err(e) => format!("could not store {name}: {e}"),
            };
            if let Some(reply) = req.reply {
                let _ = replier.publish(&reply, None, None, answer.as_bytes());
            }
        }
    });

    // A service: `greet <who>` answers with the configured greeting.
    let (_, mut greet_requests) = client.subscribe("greet")?;
    let replier = client.clone();
    tokio::spawn(async move {
        while let Some(req) = greet_requests.recv().await {
            let answer = format!("{}, {}", greeting.read(), text(&req.payload));
            if let Some(reply) = req.reply {
                let _ = replier.publish(&reply, None, None, answer.as_bytes());
            }
        }
    });

    tokio::signal::ctrl_c().await?;
    println!("sidecar: stopping");
    server.shutdown().await;
    Ok(())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
