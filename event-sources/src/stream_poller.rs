//! The stream poller of one mapping: one task per shard, reading in order from the shard's
//! checkpoint, invoking the function synchronously through the scheduler, and moving the
//! checkpoint only past what has been dealt with.
//!
//! - Shards: a shard starts once its parents have been read to their end (a consumer
//!   finishes a parent before its children); shards that resharding adds are picked up
//!   within a second.
//! - Order: each round reads up to `BatchSize × ParallelizationFactor` records; records are
//!   dealt to `ParallelizationFactor` lanes by the hash of their partition key, the lanes
//!   run at once, each in order, and the next round starts when all are done — so records
//!   with the same key are never reordered.
//! - Failure: a function error retries the batch (after a short backoff) until
//!   `MaximumRetryAttempts` (-1: until the records expire); with
//!   `BisectBatchOnFunctionError` a failed batch of more than one record is split in two
//!   first, and splits do not count as retries. With `ReportBatchItemFailures` the records
//!   before the lowest reported sequence number are done and the batch retries from it. A
//!   batch given up goes to the OnFailure queue as AWS's `KinesisBatchInfo` record, and the
//!   shard goes on. Records older than `MaximumRecordAgeInSeconds` are given up unread by
//!   the function (`RecordAgeExceeded`).
//! - Throttles (reserved concurrency, account limit, capacity) wait and retry; they never
//!   count as retries.
//! - Tumbling windows (`TumblingWindowInSeconds`): records are grouped by the window their
//!   arrival falls in (windows aligned to the epoch); each invoke carries the window, the
//!   state the previous invoke of the window returned, and `isFinalInvokeForWindow`; once a
//!   later record arrives or the window's end passes, a final invoke (no records) gets the
//!   window's state. A response without `state` counts as a function error; a state over
//!   1 MB ends the window early (`isWindowTerminatedEarly`). One lane per shard.
//! - Checkpoints are journaled with the records ([`Streams::set_checkpoint`]) after each
//!   round; after a crash the round in progress runs again (at least once), never skipped.

use crate::kinesis_event::{self, Condition, LastResponse, Origin};
use crate::mapping::Mapping;
use crate::poller::{Poller, Stats};
use crate::source::Source;
use crate::{filter, sqs_event};
use hearth_scheduler::{InvokeError, InvokeRequest, Scheduler};
use hearth_streams::Streams;
use hearth_streams::kinesis::{Read, Record, StartAt, hash_key};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// `LastProcessingResult` values, as [`Stats::last_result`] holds them.
pub const RESULT_NONE: u8 = 0;
pub const RESULT_OK: u8 = 1;
pub const RESULT_PROBLEM: u8 = 2;

/// First and longest wait before a failed batch is retried.
const RETRY_FIRST: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(2);

/// Most state a tumbling window carries (as JSON).
const MAX_WINDOW_STATE_BYTES: usize = 1024 * 1024;

/// A shard's open tumbling window and the state its function returned.
#[derive(Debug, Clone, PartialEq)]
struct Window {
    start_ms: u64,
    end_ms: u64,
    state: serde_json::Value,
    /// The function's state grew past 1 MB: the window ends at once.
    terminated_early: bool,
}

impl Window {
    fn of(arrival_ms: u64, seconds: u32) -> Self {
        let width = u64::from(seconds) * 1000;
        let start_ms = arrival_ms / width * width;
        Self {
            start_ms,
            end_ms: start_ms + width,
            state: json!({}),
            terminated_early: false,
        }
    }

    fn holds(&self, arrival_ms: u64) -> bool {
        (self.start_ms..self.end_ms).contains(&arrival_ms)
    }

    fn to_json(&self) -> serde_json::Value {
        json!({"start": self.start_ms, "end": self.end_ms, "state": self.state})
    }

    fn from_json(value: &serde_json::Value) -> Option<Self> {
        Some(Self {
            start_ms: value.get("start")?.as_u64()?,
            end_ms: value.get("end")?.as_u64()?,
            state: value.get("state").cloned().unwrap_or_else(|| json!({})),
            terminated_early: false,
        })
    }
}

struct Context {
    mapping: Mapping,
    patterns: Vec<filter::Pattern>,
    identity_arn: String,
    /// What is read.
    source: Source,
    /// Where the checkpoints are kept (the stream engine's journal, for both sources).
    streams: Streams,
    queues: hearth_queue::Engine,
    scheduler: Scheduler,
    stats: Arc<Stats>,
}

impl Context {
    fn key(&self, shard: &str) -> String {
        checkpoint_key(&self.mapping.uuid, shard)
    }

    fn origin<'a>(&'a self, shard: &'a str) -> Origin<'a> {
        Origin {
            stream_arn: &self.mapping.event_source_arn,
            shard_id: shard,
            region: &self.mapping.region,
            identity_arn: &self.identity_arn,
            dynamo: self.source.is_dynamo(),
        }
    }
}

/// The checkpoint key of a mapping's shard.
pub fn checkpoint_key(uuid: &str, shard: &str) -> String {
    format!("{uuid}/{shard}")
}

/// Where a shard's checkpoint says to go on: `Some(next sequence number)`, or `None` once
/// the shard is done.
fn position(value: &serde_json::Value) -> Option<u64> {
    if value.get("done").and_then(serde_json::Value::as_bool) == Some(true) {
        return None;
    }
    value.get("next").and_then(serde_json::Value::as_u64)
}

/// Starts the poller of an enabled mapping on a stream.
pub fn start(
    mapping: Mapping,
    source: Source,
    streams: Streams,
    queues: hearth_queue::Engine,
    scheduler: Scheduler,
) -> Result<Poller, hearth_streams::StreamError> {
    let identity_arn = scheduler
        .get_function(&mapping.function_name, mapping.qualifier.as_deref())
        .map(|c| c.role)
        .unwrap_or_default();
    let stats = Arc::new(Stats::default());
    let context = Arc::new(Context {
        patterns: mapping.patterns(),
        source,
        identity_arn,
        mapping,
        streams,
        queues,
        scheduler,
        stats: stats.clone(),
    });
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(control(context, stopped));
    Ok(Poller::new(stop, stats, task))
}

/// Starts a task for every shard whose parents are done, and notes the shards that end.
async fn control(context: Arc<Context>, mut stop: watch::Receiver<bool>) {
    let mut running: HashMap<String, tokio::task::JoinHandle<bool>> = HashMap::new();
    let mut done: HashSet<String> = HashSet::new();
    loop {
        if *stop.borrow() {
            break;
        }
        match context.source.shards() {
            Ok(shards) => {
                let ids: HashSet<&str> = shards.iter().map(|s| s.id.as_str()).collect();
                for shard in &shards {
                    if running.contains_key(&shard.id) || done.contains(&shard.id) {
                        continue;
                    }
                    let checkpoint = context.streams.checkpoint(&context.key(&shard.id));
                    if checkpoint.as_ref().is_some_and(|c| position(c).is_none()) {
                        done.insert(shard.id.clone());
                        continue;
                    }
                    // A fresh LATEST mapping has nothing to read in a closed shard.
                    if checkpoint.is_none()
                        && !shard.is_open()
                        && context.mapping.starting_position.as_deref() == Some("LATEST")
                    {
                        done.insert(shard.id.clone());
                        continue;
                    }
                    let parents_done = shard
                        .parent
                        .iter()
                        .chain(&shard.adjacent_parent)
                        .all(|p| done.contains(p) || !ids.contains(p.as_str()));
                    if parents_done {
                        let task = tokio::spawn(read_shard(
                            context.clone(),
                            shard.id.clone(),
                            stop.clone(),
                        ));
                        running.insert(shard.id.clone(), task);
                    }
                }
            }
            Err(e) => {
                tracing::warn!(mapping = %context.mapping.uuid, error = %e, "stream of an event source mapping unreadable");
            }
        }
        let ended: Vec<String> = running
            .iter()
            .filter(|(_, t)| t.is_finished())
            .map(|(id, _)| id.clone())
            .collect();
        for id in ended {
            if let Some(task) = running.remove(&id)
                && task.await.unwrap_or(false)
            {
                done.insert(id);
            }
        }
        tokio::select! {
            _ = stop.changed() => break,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
    for (_, task) in running {
        let _ = task.await;
    }
}

/// Reads one shard to its end (true) or until stopped (false).
async fn read_shard(context: Arc<Context>, shard: String, mut stop: watch::Receiver<bool>) -> bool {
    let streams = &context.streams;
    let key = context.key(&shard);
    let mut next = match streams.checkpoint(&key) {
        Some(value) => match position(&value) {
            Some(n) => n,
            None => return true,
        },
        None => {
            let at = match context.mapping.starting_position.as_deref() {
                Some("LATEST") => StartAt::Latest,
                Some("AT_TIMESTAMP") => StartAt::AtTimestamp(
                    (context.mapping.starting_position_timestamp.unwrap_or(0.0) * 1000.0) as u64,
                ),
                _ => StartAt::TrimHorizon,
            };
            match context.source.start(&shard, &at) {
                Ok(n) => {
                    // Fixed now, so a restart does not move a LATEST mapping's start.
                    streams.set_checkpoint(&key, json!({ "next": n }));
                    n
                }
                Err(e) => {
                    tracing::warn!(mapping = %context.mapping.uuid, shard, error = %e, "cannot start reading a shard");
                    return false;
                }
            }
        }
    };
    if context.mapping.tumbling_window_in_seconds > 0 {
        let window = streams
            .checkpoint(&key)
            .and_then(|c| c.get("window").and_then(Window::from_json));
        return windowed_shard(context, shard, next, window, stop).await;
    }
    let batch = context.mapping.batch_size as usize;
    let lanes = context.mapping.parallelization_factor.max(1) as usize;
    let limit = (batch * lanes).clamp(1, hearth_streams::kinesis::MAX_GET_RECORDS);
    let window = Duration::from_secs(u64::from(
        context.mapping.maximum_batching_window_in_seconds,
    ));
    // The position whose batching window has passed (it is not waited for twice).
    let mut waited_at: Option<u64> = None;
    loop {
        if *stop.borrow() {
            return false;
        }
        let Some(read) = read(&context, &shard, next, limit) else {
            return false;
        };
        context.stats.set_position(&shard, next, read.millis_behind);
        if read.records.is_empty() {
            if let Some(done) = at_end(&context, &key, read.next, &mut stop).await {
                return done;
            }
            continue;
        }
        // A batching window: wait for a full round, at most the window, then read again.
        if read.records.len() < limit
            && !window.is_zero()
            && read.next.is_some()
            && waited_at != Some(next)
        {
            let until = Instant::now() + window;
            let mut have = read.records.len();
            while have < limit && Instant::now() < until {
                let left = until.saturating_duration_since(Instant::now());
                tokio::select! {
                    _ = stop.changed() => return false,
                    () = context.source.wait(left.min(Duration::from_millis(100))) => {}
                }
                have = context.source.backlog(&shard, next).unwrap_or(have);
            }
            waited_at = Some(next);
            continue;
        }
        let oldest = read.records.first().map_or(0, |r| r.arrival_ms);
        let age = context.source.now_ms().saturating_sub(oldest);
        context.stats.set_position(&shard, next, age);
        let after = read.records.last().map_or(next, |r| r.seq + 1);
        if !round(&context, &shard, read.records, lanes, batch, &stop).await {
            return false;
        }
        next = after;
        streams.set_checkpoint(&key, json!({ "next": next }));
        context.stats.set_position(&shard, next, 0);
    }
}

/// Reads a shard with tumbling windows: one lane, batches within one window, the window's
/// state carried from invoke to invoke and checkpointed with the position.
async fn windowed_shard(
    context: Arc<Context>,
    shard: String,
    mut next: u64,
    mut window: Option<Window>,
    mut stop: watch::Receiver<bool>,
) -> bool {
    let streams = &context.streams;
    let key = context.key(&shard);
    let seconds = context.mapping.tumbling_window_in_seconds;
    let batch =
        (context.mapping.batch_size as usize).clamp(1, hearth_streams::kinesis::MAX_GET_RECORDS);
    let save = |next: u64, window: &Option<Window>| {
        let mut value = json!({ "next": next });
        if let Some(w) = window {
            value["window"] = w.to_json();
        }
        streams.set_checkpoint(&key, value);
    };
    loop {
        if *stop.borrow() {
            return false;
        }
        let Some(read) = read(&context, &shard, next, batch) else {
            return false;
        };
        let now = context.source.now_ms();
        context.stats.set_position(&shard, next, read.millis_behind);
        // The open window ends: its end has passed, a record of a later window is next, the
        // shard is closed and read, or the state grew too large.
        let ends = window.as_ref().is_some_and(|w| {
            w.terminated_early
                || read
                    .records
                    .first()
                    .map_or(now >= w.end_ms, |r| !w.holds(r.arrival_ms))
                || (read.records.is_empty() && read.next.is_none())
        });
        if ends {
            let mut open = window.take();
            if !lane_batch(&context, &shard, Vec::new(), &stop, &mut open, true).await {
                return false;
            }
            save(next, &None);
            continue;
        }
        if read.records.is_empty() {
            if let Some(done) = at_end(&context, &key, read.next, &mut stop).await {
                return done;
            }
            continue;
        }
        let first = read.records[0].arrival_ms;
        let open = window
            .get_or_insert_with(|| Window::of(first, seconds))
            .clone();
        let records: Vec<Record> = read
            .records
            .into_iter()
            .take_while(|r| open.holds(r.arrival_ms))
            .collect();
        let after = records.last().map_or(next, |r| r.seq + 1);
        if !lane_batch(&context, &shard, records, &stop, &mut window, false).await {
            return false;
        }
        next = after;
        save(next, &window);
    }
}

/// One read of `shard`, or `None` (said so) when it cannot be read.
fn read(context: &Context, shard: &str, next: u64, limit: usize) -> Option<Read> {
    context
        .source
        .read(shard, next, limit)
        .inspect_err(|e| {
            tracing::warn!(mapping = %context.mapping.uuid, shard, error = %e, "shard unreadable")
        })
        .ok()
}

/// Nothing to read where the shard's reading is: `Some(true)` once a closed shard is done
/// (and checkpointed so), `Some(false)` when stopped, `None` after waiting for more.
async fn at_end(
    context: &Context,
    key: &str,
    next: Option<u64>,
    stop: &mut watch::Receiver<bool>,
) -> Option<bool> {
    if next.is_none() {
        context.streams.set_checkpoint(key, json!({ "done": true }));
        return Some(true);
    }
    tokio::select! {
        _ = stop.changed() => Some(false),
        () = context.source.wait(Duration::from_millis(100)) => None,
    }
}

/// One round: the records dealt to lanes by partition key, the lanes run at once.
async fn round(
    context: &Arc<Context>,
    shard: &str,
    records: Vec<Record>,
    lanes: usize,
    batch: usize,
    stop: &watch::Receiver<bool>,
) -> bool {
    if lanes == 1 {
        for chunk in records.chunks(batch) {
            if !lane_batch(context, shard, chunk.to_vec(), stop, &mut None, false).await {
                return false;
            }
        }
        return true;
    }
    let mut dealt: Vec<Vec<Record>> = vec![Vec::new(); lanes];
    for record in records {
        let lane = (hash_key(&record.partition_key) % lanes as u128) as usize;
        dealt[lane].push(record);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for lane in dealt.into_iter().filter(|l| !l.is_empty()) {
        let context = context.clone();
        let shard = shard.to_owned();
        let stop = stop.clone();
        tasks.spawn(async move {
            for chunk in lane.chunks(batch) {
                if !lane_batch(&context, &shard, chunk.to_vec(), &stop, &mut None, false).await {
                    return false;
                }
            }
            true
        });
    }
    let mut all = true;
    while let Some(done) = tasks.join_next().await {
        all &= done.unwrap_or(false);
    }
    all
}

/// How one invoke of a batch went.
enum Outcome {
    Success,
    /// The function reported records failed: those before index `at` are done.
    Partial(usize),
    Failed,
    /// Throttled (and waited for): try again, after looking at the records' age.
    Throttled,
}

/// Delivers one batch to its end: true once it is dealt with (succeeded or given up),
/// false when stopped first.
///
/// With a tumbling `window`, each invoke carries it and its state, and a successful invoke's
/// `state` replaces it; `final_invoke` is the window's last invoke (no records).
async fn lane_batch(
    context: &Context,
    shard: &str,
    records: Vec<Record>,
    stop: &watch::Receiver<bool>,
    window: &mut Option<Window>,
    final_invoke: bool,
) -> bool {
    if final_invoke && window.is_none() {
        return true;
    }
    let stats = &context.stats;
    let mapping = &context.mapping;
    let records: Vec<Record> = records
        .into_iter()
        .filter(|r| {
            let view = if context.source.is_dynamo() {
                // The record itself: `eventName`, `dynamodb.Keys`, `dynamodb.NewImage`…
                serde_json::from_slice(&r.data).unwrap_or_default()
            } else {
                kinesis_event::filter_view(r)
            };
            let pass = filter::passes(&context.patterns, &view);
            if !pass {
                stats.filtered.fetch_add(1, Ordering::Relaxed);
            }
            pass
        })
        .collect();
    let mut stack = vec![records];
    while let Some(mut batch) = stack.pop() {
        let mut attempts: i64 = 0;
        let mut invokes: u32 = 0;
        let mut backoff = RETRY_FIRST;
        let mut throttle_backoff = Duration::from_millis(20);
        let mut last = LastResponse::default();
        loop {
            if mapping.maximum_record_age_in_seconds >= 0 {
                let now = context.source.now_ms();
                let max_ms = mapping.maximum_record_age_in_seconds as u64 * 1000;
                let expired = batch
                    .iter()
                    .take_while(|r| now.saturating_sub(r.arrival_ms) > max_ms)
                    .count();
                if expired > 0 {
                    let rest = batch.split_off(expired);
                    give_up(
                        context,
                        shard,
                        &batch,
                        Condition::RecordAgeExceeded,
                        invokes,
                        &last,
                    )
                    .await;
                    batch = rest;
                }
            }
            if batch.is_empty() && !final_invoke {
                break;
            }
            let call = window.as_ref().map(|w| (w, final_invoke));
            let invoked = invoke(context, shard, &batch, stop, call, &mut throttle_backoff).await;
            let Some((outcome, response, state)) = invoked else {
                return false;
            };
            if matches!(outcome, Outcome::Throttled) {
                // Not an invoke of the function, nor a retry: only the records' age counts.
                continue;
            }
            throttle_backoff = Duration::from_millis(20);
            invokes += 1;
            last = response;
            stats.batches.fetch_add(1, Ordering::Relaxed);
            match outcome {
                Outcome::Throttled => continue,
                Outcome::Success => {
                    stats
                        .received
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    stats.last_result.store(RESULT_OK, Ordering::Relaxed);
                    if let (Some(w), Some(state)) = (window.as_mut(), state) {
                        w.terminated_early = state.to_string().len() > MAX_WINDOW_STATE_BYTES;
                        w.state = state;
                    }
                    break;
                }
                Outcome::Partial(at) => {
                    stats.received.fetch_add(at as u64, Ordering::Relaxed);
                    stats.last_result.store(RESULT_PROBLEM, Ordering::Relaxed);
                    stats.function_errors.fetch_add(1, Ordering::Relaxed);
                    batch = batch.split_off(at);
                }
                Outcome::Failed => {
                    stats.last_result.store(RESULT_PROBLEM, Ordering::Relaxed);
                    stats.function_errors.fetch_add(1, Ordering::Relaxed);
                    if mapping.bisect_batch_on_function_error && batch.len() > 1 && window.is_none()
                    {
                        stats.bisections.fetch_add(1, Ordering::Relaxed);
                        let second = batch.split_off(batch.len() / 2);
                        stack.push(second);
                        stack.push(batch);
                        break;
                    }
                }
            }
            attempts += 1;
            if mapping.maximum_retry_attempts >= 0 && attempts > mapping.maximum_retry_attempts {
                give_up(
                    context,
                    shard,
                    &batch,
                    Condition::RetryAttemptsExhausted,
                    invokes,
                    &last,
                )
                .await;
                break;
            }
            stats.retries.fetch_add(1, Ordering::Relaxed);
            let mut stop = stop.clone();
            tokio::select! {
                _ = stop.changed() => return false,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(RETRY_MAX);
        }
    }
    true
}

/// Invokes the function with `batch`, waiting out throttles. `None` when stopped first.
///
/// With a tumbling window (and whether this is its final invoke) the event carries it, and
/// the third value is the `state` the function returned (a response without one failed).
async fn invoke(
    context: &Context,
    shard: &str,
    batch: &[Record],
    stop: &watch::Receiver<bool>,
    window: Option<(&Window, bool)>,
    throttle_backoff: &mut Duration,
) -> Option<(Outcome, LastResponse, Option<serde_json::Value>)> {
    let stats = &context.stats;
    let started = Instant::now();
    let refs: Vec<&Record> = batch.iter().collect();
    let mut payload = if context.source.is_dynamo() {
        kinesis_event::prebuilt_event(&refs)
    } else {
        kinesis_event::event(&refs, &context.origin(shard))
    };
    if let Some((w, final_invoke)) = window {
        let fields = json!({
            "window": {
                "start": kinesis_event::iso_seconds(w.start_ms),
                "end": kinesis_event::iso_seconds(w.end_ms),
            },
            "state": w.state,
            "shardId": shard,
            "eventSourceARN": context.mapping.event_source_arn,
            "isFinalInvokeForWindow": final_invoke,
            "isWindowTerminatedEarly": final_invoke && w.terminated_early,
        });
        // `{"Records":[…]}` becomes `{"Records":[…],"window":…}`.
        payload.pop();
        let text = fields.to_string();
        payload.push(b',');
        payload.extend_from_slice(&text.as_bytes()[1..]);
    }
    let response = loop {
        let request = InvokeRequest {
            function: context.mapping.function_name.clone(),
            qualifier: context.mapping.qualifier.clone(),
            payload: payload.clone(),
            ..Default::default()
        };
        let invoked = Instant::now();
        let result = context.scheduler.invoke(request).await;
        stats
            .invoke_nanos
            .fetch_add(invoked.elapsed().as_nanos() as u64, Ordering::Relaxed);
        let wait = match result {
            Ok(response) => break response,
            Err(InvokeError::Throttled { .. } | InvokeError::Capacity(_)) => {
                stats.throttled.fetch_add(1, Ordering::Relaxed);
                let mut stop = stop.clone();
                tokio::select! {
                    _ = stop.changed() => return None,
                    () = tokio::time::sleep(*throttle_backoff) => {}
                }
                *throttle_backoff = (*throttle_backoff * 2).min(Duration::from_secs(1));
                return Some((Outcome::Throttled, LastResponse::default(), None));
            }
            Err(e) => {
                // The function is gone or hearth is stopping: the batch waits, unread.
                tracing::warn!(mapping = %context.mapping.uuid, error = %e, "event source invoke failed");
                Duration::from_secs(1)
            }
        };
        let mut stop = stop.clone();
        tokio::select! {
            _ = stop.changed() => return None,
            () = tokio::time::sleep(wait) => {}
        }
    };
    stats
        .batch_nanos
        .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
    let last = LastResponse {
        executed_version: Some(response.executed_version.clone()),
        function_error: response.function_error.map(str::to_owned),
    };
    if response.function_error.is_some() {
        return Some((Outcome::Failed, last, None));
    }
    let state = if window.is_some() {
        let state = serde_json::from_slice::<serde_json::Value>(&response.payload)
            .ok()
            .and_then(|v| v.get("state").cloned())
            .filter(|s| !s.is_null());
        if state.is_none() {
            // A windowed invoke must answer with its state.
            return Some((Outcome::Failed, last, None));
        }
        state
    } else {
        None
    };
    if !context.mapping.report_batch_item_failures() {
        return Some((Outcome::Success, last, state));
    }
    let ids: HashSet<&str> = batch.iter().map(|r| r.sequence_number.as_str()).collect();
    let outcome = match sqs_event::failures(&response.payload, &ids) {
        None => Outcome::Failed,
        Some(failed) if failed.is_empty() => Outcome::Success,
        Some(failed) => {
            let at = batch
                .iter()
                .position(|r| failed.contains(&r.sequence_number))
                .unwrap_or(0);
            Outcome::Partial(at)
        }
    };
    Some((outcome, last, state))
}

/// Sends a batch given up to the OnFailure destination (or drops it, said so, without one).
async fn give_up(
    context: &Context,
    shard: &str,
    batch: &[Record],
    condition: Condition,
    invokes: u32,
    last: &LastResponse,
) {
    if batch.is_empty() {
        return;
    }
    let record = kinesis_event::failure_record(
        batch,
        &context.origin(shard),
        &context.mapping.function_arn,
        condition,
        invokes,
        last,
        context.source.now_ms(),
    );
    let Some(queue) = context
        .mapping
        .on_failure
        .as_deref()
        .and_then(hearth_queue::config::arn_queue_name)
    else {
        tracing::warn!(mapping = %context.mapping.uuid, shard, records = batch.len(), condition = condition.as_str(), "stream batch given up with no OnFailure destination");
        return;
    };
    let message = hearth_queue::NewMessage {
        body: record.to_string(),
        sender_id: context.mapping.account.clone(),
        ..Default::default()
    };
    let refused = match context.queues.send(queue, vec![message]).await {
        Ok(mut results) => results.pop().and_then(Result::err).map(|e| e.to_string()),
        Err(e) => Some(e.to_string()),
    };
    match refused {
        None => {
            context.stats.on_failure.fetch_add(1, Ordering::Relaxed);
        }
        Some(e) => {
            tracing::warn!(mapping = %context.mapping.uuid, shard, error = %e, "OnFailure record not sent");
        }
    }
}
