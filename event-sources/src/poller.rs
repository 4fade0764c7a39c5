//! The SQS poller of one mapping: workers that long-poll the queue, cut batches, invoke the
//! function synchronously through the scheduler and delete what succeeded; and a controller
//! that sizes the number of workers to the backlog.
//!
//! - A batch ends at `BatchSize`, when `MaximumBatchingWindowInSeconds` has passed since its
//!   first message, or before the invoke payload would pass 6 MB (the message that does not
//!   fit is made visible again at once).
//! - Messages no filter matches are deleted without an invoke.
//! - Success deletes the batch; with `ReportBatchItemFailures`, all but the reported ids (a
//!   malformed report fails the whole batch). A function error leaves the batch to come back
//!   after the visibility timeout, where the queue's redrive policy counts it. In a FIFO
//!   queue nothing after a group's first failure is deleted, so the group keeps its order.
//! - A throttled invoke (reserved concurrency, account limit, capacity) is retried with
//!   backoff, extending the batch's visibility while it waits: throttling delays a batch, it
//!   never drops it nor counts as a receive.
//! - Workers start at 5 (or `MaximumConcurrency`), grow by 5 a second while messages remain
//!   and invokes are not throttled, shrink by one a second when receives come back empty,
//!   and halve on function errors.

use crate::filter;
use crate::mapping::Mapping;
use crate::sqs_event;
use hearth_queue::{QueueService, ReceiveOptions, Received};
use hearth_scheduler::{InvokeError, InvokeRequest, Scheduler};
use std::collections::BTreeMap;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Lambda's synchronous payload limit, which a batch's event must fit.
const MAX_EVENT_BYTES: usize = 6 * 1024 * 1024;
/// Workers a mapping starts with.
const START_WORKERS: usize = 5;
/// Most workers without a `MaximumConcurrency`.
const MAX_WORKERS: usize = 1000;

/// What a mapping's poller has done.
#[derive(Debug, Default)]
pub struct Stats {
    pub received: AtomicU64,
    pub deleted: AtomicU64,
    pub filtered: AtomicU64,
    pub batches: AtomicU64,
    pub function_errors: AtomicU64,
    pub throttled: AtomicU64,
    pub workers: AtomicUsize,
    /// Nanoseconds spent in the function's invokes, and in the whole of each batch.
    pub invoke_nanos: AtomicU64,
    pub batch_nanos: AtomicU64,
    /// Streams: batches retried, split, and given up to the OnFailure destination.
    pub retries: AtomicU64,
    pub bisections: AtomicU64,
    pub on_failure: AtomicU64,
    /// `LastProcessingResult` ([`crate::stream_poller::RESULT_OK`]…).
    pub last_result: AtomicU8,
    /// Streams: each shard's next sequence number and iterator age (ms).
    pub positions: Mutex<BTreeMap<String, (u64, u64)>>,
}

impl Stats {
    /// Records where a shard's reading is, and how old the record there is.
    pub fn set_position(&self, shard: &str, next: u64, age_ms: u64) {
        self.positions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(shard.to_owned(), (next, age_ms));
    }

    /// Each shard's (next sequence number, iterator age in ms).
    pub fn positions(&self) -> BTreeMap<String, (u64, u64)> {
        self.positions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// A running poller; stops when dropped or told to.
#[derive(Debug)]
pub struct Poller {
    stop: watch::Sender<bool>,
    pub stats: Arc<Stats>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Poller {
    pub(crate) fn new(
        stop: watch::Sender<bool>,
        stats: Arc<Stats>,
        task: tokio::task::JoinHandle<()>,
    ) -> Self {
        Self {
            stop,
            stats,
            task: Some(task),
        }
    }

    /// Stops the workers (each finishes the batch it is delivering) and waits for them.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

struct Context<Q> {
    mapping: Mapping,
    queue: String,
    fifo: bool,
    patterns: Vec<filter::Pattern>,
    /// The visibility timeout receives ask for (`None`: the queue's).
    visibility: Option<u32>,
    /// The queue's visibility timeout in force.
    visibility_seconds: u32,
    source: Q,
    scheduler: Scheduler,
    stats: Arc<Stats>,
    /// How many workers should run.
    target: AtomicUsize,
    /// Since the controller last looked: a receive found messages, one found none, an
    /// invoke was throttled, the function failed.
    busy: AtomicBool,
    empty: AtomicBool,
    throttled: AtomicBool,
    failed: AtomicBool,
}

/// Starts the poller of an enabled mapping on a queue of `source`.
pub fn start<Q: QueueService>(
    mapping: Mapping,
    source: Q,
    scheduler: Scheduler,
) -> Result<Poller, hearth_queue::SqsError> {
    let (queue, fifo, queue_visibility) = source.describe(&mapping.event_source_arn)?;
    let timeout = scheduler
        .get_function(&mapping.function_name, mapping.qualifier.as_deref())
        .map(|c| c.timeout)
        .unwrap_or(3);
    // When the batching window and the function's timeout outlast the queue's visibility
    // timeout, Lambda receives with window + timeout + 30 s.
    let window = mapping.maximum_batching_window_in_seconds;
    let visibility = (window + timeout > queue_visibility).then_some(window + timeout + 30);
    let stats = Arc::new(Stats::default());
    let max = mapping
        .maximum_concurrency()
        .map_or(MAX_WORKERS, |n| n as usize);
    let context = Arc::new(Context {
        patterns: mapping.patterns(),
        queue,
        fifo,
        visibility,
        visibility_seconds: visibility.unwrap_or(queue_visibility),
        mapping,
        source,
        scheduler,
        stats: stats.clone(),
        target: AtomicUsize::new(START_WORKERS.min(max)),
        busy: AtomicBool::new(false),
        empty: AtomicBool::new(false),
        throttled: AtomicBool::new(false),
        failed: AtomicBool::new(false),
    });
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(control(context, stopped, max));
    Ok(Poller {
        stop,
        stats,
        task: Some(task),
    })
}

/// Keeps the number of workers at the target, and moves the target once a second.
async fn control<Q: QueueService>(
    context: Arc<Context<Q>>,
    mut stop: watch::Receiver<bool>,
    max: usize,
) {
    let mut workers = tokio::task::JoinSet::new();
    let mut running = 0usize;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        let target = context.target.load(Ordering::Relaxed);
        while running < target {
            workers.spawn(worker(context.clone(), running, stop.clone()));
            running += 1;
        }
        context.stats.workers.store(running, Ordering::Relaxed);
        tokio::select! {
            _ = stop.changed() => break,
            Some(_) = workers.join_next() => running -= 1,
            _ = tick.tick() => {
                let busy = context.busy.swap(false, Ordering::Relaxed);
                let empty = context.empty.swap(false, Ordering::Relaxed);
                let throttled = context.throttled.swap(false, Ordering::Relaxed);
                let failed = context.failed.swap(false, Ordering::Relaxed);
                let floor = max.clamp(1, 2);
                let next = if failed {
                    (target / 2).max(floor)
                } else if busy && !empty && !throttled {
                    (target + 5).min(max)
                } else if empty && !busy {
                    target.saturating_sub(1).max(START_WORKERS.min(max))
                } else {
                    target
                };
                context.target.store(next, Ordering::Relaxed);
            }
        }
    }
    // Every worker sees the stop too; wait for the batches in delivery to end.
    while workers.join_next().await.is_some() {}
    context.stats.workers.store(0, Ordering::Relaxed);
}

async fn worker<Q: QueueService>(
    context: Arc<Context<Q>>,
    index: usize,
    mut stop: watch::Receiver<bool>,
) {
    while !*stop.borrow() && index < context.target.load(Ordering::Relaxed) {
        let batch = tokio::select! {
            batch = gather(&context) => batch,
            _ = stop.changed() => break,
        };
        match batch {
            Ok(batch) if batch.is_empty() => context.empty.store(true, Ordering::Relaxed),
            Ok(batch) => {
                context.busy.store(true, Ordering::Relaxed);
                deliver(&context, batch, &mut stop).await;
            }
            Err(e) => {
                // The queue is gone or refused: look again in a second.
                tracing::warn!(mapping = %context.mapping.uuid, error = %e, "event source poll failed");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.changed() => break,
                }
            }
        }
    }
}

/// Receives one batch: until `BatchSize`, the batching window, or 6 MB of event.
async fn gather<Q: QueueService>(
    context: &Context<Q>,
) -> Result<Vec<(Received, Vec<u8>)>, hearth_queue::SqsError> {
    let mapping = &context.mapping;
    let size = mapping.batch_size as usize;
    let window = Duration::from_secs(u64::from(mapping.maximum_batching_window_in_seconds));
    let mut batch: Vec<(Received, Vec<u8>)> = Vec::new();
    let mut bytes = 16usize;
    let mut first: Option<Instant> = None;
    loop {
        let wait = match first {
            None => 20,
            Some(at) => {
                let left = window.saturating_sub(at.elapsed());
                if left.is_zero() {
                    break;
                }
                left.as_secs().clamp(1, 20) as u32
            }
        };
        let options = ReceiveOptions {
            max: (size - batch.len()).min(10),
            wait_seconds: Some(wait),
            visibility_timeout: context.visibility,
        };
        let received = context
            .source
            .receive_messages(&context.queue, options)
            .await?;
        context
            .stats
            .received
            .fetch_add(received.len() as u64, Ordering::Relaxed);
        if received.is_empty() && first.is_none() {
            return Ok(batch);
        }
        first.get_or_insert_with(Instant::now);
        let mut overflow = Vec::new();
        for message in received {
            let record = sqs_event::record(&message, &mapping.event_source_arn, &mapping.region);
            if bytes + record.len() + 1 > MAX_EVENT_BYTES && !batch.is_empty() {
                overflow.push((message.receipt_handle, 0));
                continue;
            }
            bytes += record.len() + 1;
            batch.push((message, record));
        }
        if !overflow.is_empty() {
            // What did not fit goes back at once, for the next batch.
            let _ = context
                .source
                .change_visibilities(&context.queue, &overflow)
                .await;
            break;
        }
        if batch.len() >= size || window.is_zero() {
            break;
        }
    }
    Ok(batch)
}

/// Filters, invokes and deletes one batch.
async fn deliver<Q: QueueService>(
    context: &Context<Q>,
    batch: Vec<(Received, Vec<u8>)>,
    stop: &mut watch::Receiver<bool>,
) {
    let started = Instant::now();
    let stats = &context.stats;
    let (pass, dropped): (Vec<_>, Vec<_>) = batch
        .into_iter()
        .partition(|(m, _)| filter::passes(&context.patterns, &sqs_event::filter_view(m)));
    if !dropped.is_empty() {
        let handles: Vec<String> = dropped
            .iter()
            .map(|(m, _)| m.receipt_handle.clone())
            .collect();
        stats
            .filtered
            .fetch_add(handles.len() as u64, Ordering::Relaxed);
        delete(context, &handles).await;
    }
    if pass.is_empty() {
        return;
    }
    let records: Vec<Vec<u8>> = pass.iter().map(|(_, r)| r.clone()).collect();
    let payload = sqs_event::event(&records);
    let messages: Vec<Received> = pass.into_iter().map(|(m, _)| m).collect();
    stats.batches.fetch_add(1, Ordering::Relaxed);
    let mut backoff = Duration::from_millis(20);
    let mut extended = Instant::now();
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
        match result {
            Ok(response) => break response,
            Err(InvokeError::Throttled { .. } | InvokeError::Capacity(_)) => {
                stats.throttled.fetch_add(1, Ordering::Relaxed);
                context.throttled.store(true, Ordering::Relaxed);
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    // Stopping: the batch comes back after its visibility timeout.
                    _ = stop.changed() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(1));
                // Keep the batch hidden while it waits for a slot.
                let half = Duration::from_secs(u64::from(context.visibility_seconds) / 2);
                if extended.elapsed() >= half {
                    let entries: Vec<(String, u32)> = messages
                        .iter()
                        .map(|m| (m.receipt_handle.clone(), context.visibility_seconds))
                        .collect();
                    let _ = context
                        .source
                        .change_visibilities(&context.queue, &entries)
                        .await;
                    extended = Instant::now();
                }
            }
            Err(e) => {
                // The function is gone or hearth is stopping: the batch comes back later.
                tracing::warn!(mapping = %context.mapping.uuid, error = %e, "event source invoke failed");
                context.failed.store(true, Ordering::Relaxed);
                return;
            }
        }
    };
    if response.function_error.is_some() {
        stats.function_errors.fetch_add(1, Ordering::Relaxed);
        context.failed.store(true, Ordering::Relaxed);
        stats
            .batch_nanos
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        return;
    }
    let failed: HashSet<String> = if context.mapping.report_batch_item_failures() {
        let ids: HashSet<&str> = messages.iter().map(|m| m.message_id.as_str()).collect();
        match sqs_event::failures(&response.payload, &ids) {
            Some(failed) => failed,
            None => {
                stats.function_errors.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
    } else {
        HashSet::new()
    };
    let mut blocked_groups: HashSet<&str> = HashSet::new();
    let mut handles = Vec::with_capacity(messages.len());
    for m in &messages {
        let group = m.system.get("MessageGroupId").map(String::as_str);
        let is_failed = failed.contains(&m.message_id);
        if context.fifo
            && let Some(group) = group
            && (is_failed || blocked_groups.contains(group))
        {
            blocked_groups.insert(group);
            continue;
        }
        if !is_failed {
            handles.push(m.receipt_handle.clone());
        }
    }
    delete(context, &handles).await;
    stats
        .batch_nanos
        .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
}

async fn delete<Q: QueueService>(context: &Context<Q>, handles: &[String]) {
    if handles.is_empty() {
        return;
    }
    match context
        .source
        .delete_messages(&context.queue, handles)
        .await
    {
        Ok(results) => {
            let deleted = results.iter().filter(|r| r.is_ok()).count();
            context
                .stats
                .deleted
                .fetch_add(deleted as u64, Ordering::Relaxed);
        }
        Err(e) => {
            tracing::warn!(mapping = %context.mapping.uuid, error = %e, "cannot delete a delivered batch")
        }
    }
}
