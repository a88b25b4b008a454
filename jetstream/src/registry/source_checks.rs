//! The checks of a mirror's or sources' config that need the account's
//! other streams, as the reference makes them when a stream is created or
//! updated: an origin here must not allow larger messages than the copy,
//! an external deliver prefix must not overlap an origin's subjects,
//! sources must not form a cycle, and a mirror serves direct gets when
//! its origin does (`mirror_direct` follows the origin's `allow_direct`).

use std::collections::HashSet;

use crate::api::stream::StreamConfig;
use crate::error::ApiError;
use crate::subject::subjects_overlap;

/// Checks `config` against the streams `lookup` finds; sets its
/// `mirror_direct` from a local origin.
pub(super) fn check<'a>(
    config: &mut StreamConfig,
    lookup: impl Fn(&str) -> Option<&'a StreamConfig>,
) -> Result<(), ApiError> {
    use crate::error::{
        MIRROR_MAX_MESSAGE_SIZE_TOO_BIG, SOURCE_MAX_MESSAGE_SIZE_TOO_BIG,
        STREAM_EXTERNAL_DEL_PREFIX_OVERLAPS,
    };
    let too_big = |origin: &StreamConfig| {
        config.max_msg_size > 0
            && origin.max_msg_size > 0
            && config.max_msg_size < origin.max_msg_size
    };
    let mut origin_subjects: Vec<String> = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut mirror_direct = None;
    if let Some(m) = &config.mirror {
        match &m.external {
            None => {
                if let Some(origin) = lookup(&m.name) {
                    origin_subjects.extend(origin.subjects.iter().cloned());
                    if too_big(origin) {
                        return Err(MIRROR_MAX_MESSAGE_SIZE_TOO_BIG.into());
                    }
                    mirror_direct = Some(origin.allow_direct);
                }
            }
            Some(ext) if !ext.deliver.is_empty() => prefixes.push(ext.deliver.clone()),
            Some(_) => {}
        }
    }
    for src in &config.sources {
        match &src.external {
            None => {
                if let Some(origin) = lookup(&src.name) {
                    origin_subjects.extend(origin.subjects.iter().cloned());
                    if too_big(origin) {
                        return Err(SOURCE_MAX_MESSAGE_SIZE_TOO_BIG.into());
                    }
                }
            }
            Some(ext) if !ext.deliver.is_empty() => prefixes.push(ext.deliver.clone()),
            Some(_) => {}
        }
    }
    for prefix in &prefixes {
        for subject in &origin_subjects {
            if subjects_overlap(subject, &format!("{prefix}.{subject}")) {
                return Err(STREAM_EXTERNAL_DEL_PREFIX_OVERLAPS
                    .with(&[("prefix", prefix), ("subject", subject)]));
            }
        }
    }
    check_cycles(config, &lookup)?;
    if let Some(direct) = mirror_direct {
        config.mirror_direct = direct;
    }
    Ok(())
}

/// Walks the local sources and mirrors from `config`: reaching a stream
/// seen before is a cycle (for a source, when its filter meets the
/// stream's subjects).
fn check_cycles<'a>(
    config: &StreamConfig,
    lookup: &impl Fn(&str) -> Option<&'a StreamConfig>,
) -> Result<(), ApiError> {
    let cycle = || ApiError::stream_invalid_config("detected cycle");
    let mut to_visit: Vec<&StreamConfig> = vec![config];
    let mut visited: HashSet<String> = HashSet::new();
    while let Some(cfg) = (!to_visit.is_empty()).then(|| to_visit.remove(0)) {
        visited.insert(cfg.name.clone());
        for src in cfg.sources.iter().filter(|s| s.external.is_none()) {
            if visited.contains(&src.name) {
                let filter = &src.filter_subject;
                let meets =
                    filter.is_empty() || cfg.subjects.iter().any(|s| subjects_overlap(s, filter));
                if meets {
                    return Err(cycle());
                }
            } else if let Some(next) = lookup(&src.name) {
                to_visit.push(next);
            }
        }
        if let Some(m) = cfg.mirror.as_ref().filter(|m| m.external.is_none()) {
            if visited.contains(&m.name) {
                return Err(cycle());
            }
            if let Some(next) = lookup(&m.name) {
                to_visit.push(next);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::stream::StreamSource;

    fn stream(name: &str, subjects: &[&str], sources: &[&str]) -> StreamConfig {
        StreamConfig {
            name: name.into(),
            subjects: subjects.iter().map(|s| s.to_string()).collect(),
            sources: sources
                .iter()
                .map(|s| StreamSource {
                    name: s.to_string(),
                    ..StreamSource::default()
                })
                .collect(),
            ..StreamConfig::default()
        }
    }

    #[test]
    fn cycles_and_sizes_are_refused_and_mirror_direct_follows_the_origin() {
        let a = stream("A", &["a"], &["B"]);
        let others = [a.clone()];
        let lookup = |n: &str| others.iter().find(|c| c.name == n);
        let mut b = stream("B", &["b"], &["A"]);
        let err = check(&mut b, lookup).expect_err("a cycle");
        assert_eq!(
            (err.err_code, err.description.as_str()),
            (10052, "detected cycle")
        );
        let mut c = stream("C", &["c"], &["A"]);
        assert!(check(&mut c, lookup).is_ok());
        let origin = StreamConfig {
            allow_direct: true,
            max_msg_size: 100,
            ..stream("O", &["o"], &[])
        };
        let others = [origin];
        let lookup = |n: &str| others.iter().find(|c| c.name == n);
        let mut m = StreamConfig {
            name: "M".into(),
            mirror: Some(StreamSource {
                name: "O".into(),
                ..StreamSource::default()
            }),
            ..StreamConfig::default()
        };
        check(&mut m, lookup).expect("mirror");
        assert!(m.mirror_direct);
        m.max_msg_size = 10;
        assert_eq!(
            check(&mut m, lookup).expect_err("too small").err_code,
            10030
        );
    }
}
