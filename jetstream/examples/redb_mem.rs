use redb::{Database, TableDefinition};
const T: TableDefinition<u64, &[u8]> = TableDefinition::new("t");
fn rss() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines().find(|l| l.starts_with("VmRSS:")).unwrap().split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}
fn main() {
    let n: usize = std::env::args().nth(1).unwrap().parse().unwrap();
    let cache: usize = std::env::args().nth(2).unwrap().parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let base = rss();
    let mut dbs = Vec::new();
    for i in 0..n {
        let db = Database::builder().set_cache_size(cache).create(dir.path().join(format!("{i}.redb"))).unwrap();
        let w = db.begin_write().unwrap();
        { let mut t = w.open_table(T).unwrap(); t.insert(1, b"hello".as_slice()).unwrap(); }
        w.commit().unwrap();
        dbs.push(db);
    }
    println!("{n} dbs cache {cache}: {} KB per db", (rss() - base) / n as u64 / 1024);
}
