//! The consumer endpoints of `$JS.API`, run on the stream's shard
//! (where its consumers live): create (all subject forms), info, delete,
//! names, list, pause and reset. Each returns the reply JSON and whether it is
//! an error reply.

use crate::api::consumer::{
    check_new_consumer, decide_action, ActionOutcome, ConsumerCreateResponse,
    ConsumerDeleteResponse, ConsumerInfoResponse, ConsumerLimits, ConsumerListRequest,
    ConsumerListResponse, ConsumerNamesRequest, ConsumerNamesResponse, ConsumerPauseRequest,
    ConsumerPauseResponse, ConsumerResetRequest, ConsumerResetResponse, CreateConsumerRequest,
    CreateKind, CreateSubject, ResetBody,
};
use crate::api::stream::{RetentionPolicy, StreamConfig};
use crate::api::{decode, decode_optional, Response, ResponseBody};
use crate::error::ApiError;
use crate::outbox::{OutMsg, Outbox};
use crate::stream::Stream;

use crate::consumer::{ephemeral_name, Consumer};

/// The version reported in consumer metadata.
pub const SERVER_VERSION: &str = "2.14.0";

pub struct Reply {
    pub json: Vec<u8>,
    pub error: bool,
}

fn reply<B: ResponseBody>(resp: &Response<B>) -> Reply {
    Reply {
        json: resp.to_json(),
        error: resp.error.is_some(),
    }
}

fn store_err(e: impl std::fmt::Display) -> ApiError {
    ApiError::store_failed(e.to_string())
}

/// CONSUMER.CREATE.<S>[.<C>[.<filter>]] and CONSUMER.DURABLE.CREATE.<S>.<C>.
pub fn create(
    stream: &mut Stream,
    config: &StreamConfig,
    limits: &ConsumerLimits,
    subject: &str,
    body: &[u8],
    now: i64,
    outbox: &dyn Outbox,
) -> Reply {
    match try_create(stream, config, limits, subject, body, now, outbox) {
        Ok(r) => r,
        Err(e) => reply(&ConsumerCreateResponse::error(e)),
    }
}

fn try_create(
    stream: &mut Stream,
    stream_config: &StreamConfig,
    limits: &ConsumerLimits,
    subject: &str,
    body: &[u8],
    now: i64,
    outbox: &dyn Outbox,
) -> Result<Reply, ApiError> {
    let Some(parsed) = CreateSubject::parse(subject) else {
        return Err(ApiError::stream_name_mismatch());
    };
    // Anything but a blank body must be JSON (a blank one has no stream
    // name, which the subject check refuses).
    let mut req: CreateConsumerRequest = if body.iter().all(u8::is_ascii_whitespace) {
        CreateConsumerRequest::default()
    } else {
        decode(body)?
    };
    req.check_subject(&parsed)?;
    let mut config = req.config.clone();
    config.validate(stream_config, limits, req.pedantic)?;
    // A mirror's or source's consumer asks under a stable name; each
    // one gets a suffix of its own (the reference's limits-stream path).
    let sourcing_suffix =
        (config.direct && config.sourcing && !config.name.is_empty()).then(|| {
            format!(
                "-{}",
                crate::consumer::ephemeral_name(now, stream.consumers.len() as u64)
            )
        });
    if let Some(suffix) = &sourcing_suffix {
        config.name.push_str(suffix);
    }
    let name = match parsed.kind {
        CreateKind::Named { consumer, .. } | CreateKind::LegacyDurable { consumer } => {
            match &sourcing_suffix {
                Some(suffix) => format!("{consumer}{suffix}"),
                None => consumer.to_string(),
            }
        }
        CreateKind::Ephemeral => {
            if config.name.is_empty() {
                let mut salt = stream.consumers.len() as u64;
                loop {
                    let n = ephemeral_name(now, salt);
                    if !stream.consumers.contains_key(&n) {
                        break n;
                    }
                    salt += 1;
                }
            } else {
                config.name.clone()
            }
        }
    };
    // The legacy DURABLE.CREATE subject follows the same action rules
    // (the reference accepts action create with an identical config there).
    let existing = stream.consumers.get(&name).map(|c| c.config.clone());
    let bound = stream
        .consumers
        .get(&name)
        .is_some_and(|c| c.config.is_push() && c.push_bound);
    config.set_static_metadata();
    let wq_others: Option<Vec<Vec<String>>> =
        (existing.is_some() && stream_config.retention == RetentionPolicy::WorkQueue).then(|| {
            stream
                .consumers
                .iter()
                .filter(|(n, _)| **n != name)
                .map(|(_, c)| c.filters().to_vec())
                .collect()
        });
    let outcome = decide_action(
        req.action,
        existing.as_ref(),
        &mut config,
        bound,
        wq_others.as_deref(),
    )?;
    match outcome {
        ActionOutcome::Create => {
            let others: Vec<Vec<String>> = stream
                .consumers
                .values()
                .map(|c| c.filters().to_vec())
                .collect();
            check_new_consumer(
                stream_config,
                limits,
                &config,
                stream.public_consumers(),
                &others,
            )?;
            let mut consumer = Consumer::new(
                &stream_config.name,
                &name,
                config,
                now,
                stream.store(),
                stream_config.max_msgs_per_subject == 1,
            )
            .map_err(store_err)?;
            consumer.started_with_ack_retention =
                stream.policy().interest_retention || stream.policy().workqueue_retention;
            consumer.recount_last_per_subject(stream.store());
            stream.consumers.insert(name.clone(), consumer);
        }
        ActionOutcome::Update => {
            let mut refilter_from = None;
            if let Some(c) = stream.consumers.get_mut(&name) {
                if c.filters() != config.filters().as_slice() {
                    refilter_from = Some(c.ack_floor_stream_seq());
                }
                c.update_config(config);
            }
            // Messages the new filters no longer want go, from the
            // consumer's ack floor on, when nobody else needs them.
            if let Some(from) = refilter_from {
                let store = stream.store.as_ref();
                if let Some(c) = stream.consumers.get_mut(&name) {
                    c.note_unmatched_pending(store).map_err(store_err)?;
                    c.recount_last_per_subject(store);
                }
                stream.drop_unneeded(from).map_err(store_err)?;
            }
        }
    }
    stream.save_consumers().map_err(store_err)?;
    let store = stream.store.as_ref();
    let Some(c) = stream.consumers.get_mut(&name) else {
        return Err(ApiError::consumer_not_found());
    };
    // A push consumer is bound as soon as its deliver subject has interest.
    c.refresh_activity(outbox, now);
    let info = c.info(store, now, SERVER_VERSION).map_err(store_err)?;
    Ok(reply(&ConsumerCreateResponse::created(info)))
}

pub fn info(stream: &mut Stream, name: &str, body: &[u8], now: i64, outbox: &dyn Outbox) -> Reply {
    if !crate::api::json::is_empty_request(body) {
        return reply(&ConsumerInfoResponse::error(ApiError::not_empty_request()));
    }
    let store = stream.store.as_ref();
    let Some(c) = stream.consumers.get_mut(name) else {
        return reply(&ConsumerInfoResponse::error(ApiError::consumer_not_found()));
    };
    c.refresh_activity(outbox, now);
    match c.info(store, now, SERVER_VERSION) {
        Ok(info) => reply(&ConsumerInfoResponse::info(info)),
        Err(e) => reply(&ConsumerInfoResponse::error(store_err(e))),
    }
}

pub fn delete(stream: &mut Stream, name: &str, out: &mut Vec<OutMsg>) -> Reply {
    if !stream.consumers.contains_key(name) {
        return reply(&ConsumerDeleteResponse::error(
            ApiError::consumer_not_found(),
        ));
    }
    match stream.remove_consumer(name, out) {
        Ok(()) => reply(&ConsumerDeleteResponse::deleted()),
        Err(e) => reply(&ConsumerDeleteResponse::error(store_err(e))),
    }
}

pub fn names(stream: &mut Stream, body: &[u8]) -> Reply {
    let req: ConsumerNamesRequest = match decode_optional(body) {
        Ok(r) => r,
        Err(e) => return reply(&ConsumerNamesResponse::error(e)),
    };
    let names: Vec<String> = stream
        .consumers
        .iter()
        .filter(|(_, c)| !c.config.direct)
        .map(|(n, _)| n.clone())
        .collect();
    reply(&ConsumerNamesResponse::page(&names, req.offset))
}

pub fn list(stream: &mut Stream, body: &[u8], now: i64, outbox: &dyn Outbox) -> Reply {
    let req: ConsumerListRequest = match decode_optional(body) {
        Ok(r) => r,
        Err(e) => return reply(&ConsumerListResponse::error(e)),
    };
    let store = stream.store.as_ref();
    let mut infos = Vec::new();
    for c in stream.consumers.values_mut().filter(|c| !c.config.direct) {
        c.refresh_activity(outbox, now);
        match c.info(store, now, SERVER_VERSION) {
            Ok(mut info) => {
                // The reference lists configs with only the request level.
                let level = info.config.metadata.get("_nats.req.level").cloned();
                info.config.metadata.remove("_nats.level");
                info.config.metadata.remove("_nats.ver");
                if let Some(l) = level {
                    info.config.metadata.insert("_nats.req.level".into(), l);
                }
                infos.push(info);
            }
            Err(e) => return reply(&ConsumerListResponse::error(store_err(e))),
        }
    }
    reply(&ConsumerListResponse::page(&infos, req.offset))
}

pub fn pause(stream: &mut Stream, name: &str, body: &[u8], now: i64) -> Reply {
    let req: ConsumerPauseRequest = decode_optional(body).unwrap_or_default();
    let Some(c) = stream.consumers.get_mut(name) else {
        return reply(&ConsumerPauseResponse::error(ApiError::consumer_not_found()));
    };
    let until = req.pause_until.filter(|t| !t.is_zero());
    let mut config = c.config.clone();
    config.pause_until = until.filter(|t| t.nanos > now);
    config.set_static_metadata();
    c.update_config(config);
    if let Err(e) = stream.save_consumers() {
        return reply(&ConsumerPauseResponse::error(store_err(e)));
    }
    reply(&ConsumerPauseResponse::pause(until, now))
}

/// CONSUMER.RESET (ADR-60): delivery starts over where the request says
/// (an empty body: past the ack floor); the reply is the consumer's info
/// with `reset_seq`.
pub fn reset(stream: &mut Stream, name: &str, body: &[u8], now: i64, outbox: &dyn Outbox) -> Reply {
    let req: ConsumerResetRequest = if body.is_empty() {
        ConsumerResetRequest::default()
    } else {
        match decode_unmarshal(body) {
            Ok(r) => r,
            Err(e) => return reply(&ConsumerResetResponse::error(e)),
        }
    };
    let store = stream.store.as_ref();
    let Some(c) = stream.consumers.get_mut(name) else {
        return reply(&ConsumerResetResponse::error(ApiError::consumer_not_found()));
    };
    let seq = match c.reset(req.seq, store) {
        Ok(seq) => seq,
        Err(why) => {
            let e = crate::error::CONSUMER_INVALID_RESET.with(&[("err", &why)]);
            return reply(&ConsumerResetResponse::error(e));
        }
    };
    c.refresh_activity(outbox, now);
    let info = match c.info(store, now, SERVER_VERSION) {
        Ok(info) => info,
        Err(e) => return reply(&ConsumerResetResponse::error(store_err(e))),
    };
    if let Err(e) = stream.save_consumers() {
        return reply(&ConsumerResetResponse::error(store_err(e)));
    }
    reply(&ConsumerResetResponse::ok(ResetBody {
        info: Some(info),
        reset_seq: seq,
    }))
}

/// A request these endpoints decode with Go's plain `json.Unmarshal`
/// rather than the API's decoder: its syntax errors do not say where.
fn decode_unmarshal<T: crate::api::json::Request>(body: &[u8]) -> Result<T, ApiError> {
    decode(body).map_err(|mut e| {
        if let Some(at) = e.description.find(" at offset ") {
            e.description.truncate(at);
        }
        e
    })
}

/// The group an UNPIN names, checked before the stream is looked up, as
/// the reference checks it (Go's plain Unmarshal: an empty body is
/// "unexpected end of JSON input").
pub fn unpin_group(body: &[u8]) -> Result<String, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid_json("unexpected end of JSON input"));
    }
    let req: crate::api::consumer::ConsumerUnpinRequest = decode_unmarshal(body)?;
    if req.group.is_empty() {
        return Err(ApiError::invalid_json("consumer group not specified"));
    }
    if !crate::api::consumer::is_valid_group_name(&req.group) {
        return Err(crate::error::CONSUMER_INVALID_GROUP_NAME.into());
    }
    Ok(req.group)
}

/// CONSUMER.UNPIN: the consumer's pin for `group` is taken back.
pub fn unpin(stream: &mut Stream, name: &str, group: &str) -> Reply {
    use crate::api::consumer::ConsumerUnpinResponse;
    let Some(c) = stream.consumers.get_mut(name) else {
        return reply(&ConsumerUnpinResponse::error(ApiError::consumer_not_found()));
    };
    if !c.config.priority_groups.iter().any(|g| g == group) {
        return reply(&ConsumerUnpinResponse::error(
            crate::error::CONSUMER_INVALID_PRIORITY_GROUP.into(),
        ));
    }
    c.unpin(group);
    reply(&ConsumerUnpinResponse::ok(Default::default()))
}
