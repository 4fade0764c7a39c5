//! One queue's messages in memory: which are visible, delayed or in flight, FIFO groups and
//! their blocking, deduplication. Pure bookkeeping on a clock value passed in (epoch
//! milliseconds), so every rule is tested without waiting; the engine writes the journal.

use crate::config::QueueConfig;
use crate::message::{AttributeValue, Received};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// FIFO deduplication window.
pub const DEDUP_WINDOW_MS: u64 = 5 * 60 * 1000;

/// A message as it is kept (and journaled).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Msg {
    /// The journal record holding it; also its order in the queue.
    #[serde(skip)]
    pub id: u64,
    pub message_id: String,
    pub body: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, AttributeValue>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub system_attributes: BTreeMap<String, AttributeValue>,
    pub md5_of_body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5_of_attributes: Option<String>,
    pub sent_ms: u64,
    /// When it first becomes visible (sent + delay); kept so a restart keeps the delay.
    pub available_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deduplication_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
    pub sender_id: String,
    #[serde(default)]
    pub receive_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_receive_ms: Option<u64>,
    /// The queue it was moved from to this dead-letter queue, for a redrive back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_source: Option<String>,
    /// Bytes it counts for (body and attributes).
    pub size: usize,
    /// When it is next visible; in flight while this is in the future and it was received.
    #[serde(skip)]
    pub visible_ms: u64,
    /// Changes at every receive: a receipt handle names one receive.
    #[serde(skip)]
    pub nonce: u64,
}

impl Msg {
    fn in_flight(&self, now: u64) -> bool {
        self.receive_count > 0 && self.visible_ms > now && self.nonce != 0
    }
}

#[derive(Debug, Default)]
struct Group {
    /// Its messages, oldest first.
    ids: BTreeSet<u64>,
    /// Those received and not yet visible again.
    in_flight: BTreeSet<u64>,
}

/// What one receive found besides the messages it returns.
#[derive(Debug, Default)]
pub struct Taken {
    pub received: Vec<(u64, Received)>,
    /// Messages past `maxReceiveCount`: out of this queue, bound for the dead-letter queue.
    pub dead: Vec<Msg>,
    /// Messages past the retention period, dropped.
    pub expired: Vec<Msg>,
}

/// A receipt handle: which queue, which message, which receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    pub queue: u64,
    pub message: u64,
    pub nonce: u64,
}

impl Receipt {
    pub fn encode(self) -> String {
        use base64::Engine as _;
        let mut bytes = [0u8; 24];
        bytes[..8].copy_from_slice(&self.queue.to_be_bytes());
        bytes[8..16].copy_from_slice(&self.message.to_be_bytes());
        bytes[16..].copy_from_slice(&self.nonce.to_be_bytes());
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    pub fn decode(handle: &str) -> Option<Self> {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(handle)
            .ok()?;
        let bytes: [u8; 24] = bytes.try_into().ok()?;
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&bytes[i..i + 8]);
            u64::from_be_bytes(w)
        };
        Some(Self {
            queue: word(0),
            message: word(8),
            nonce: word(16),
        })
    }
}

/// Counts for `GetQueueAttributes`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub visible: usize,
    pub in_flight: usize,
    pub delayed: usize,
    pub oldest_sent_ms: Option<u64>,
}

/// Why a visibility change was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum VisibilityRefusal {
    NotInFlight,
    Stale,
}

/// One queue's state.
#[derive(Debug)]
pub struct QueueState {
    pub config: QueueConfig,
    pub tags: BTreeMap<String, String>,
    pub created_ms: u64,
    pub modified_ms: u64,
    messages: HashMap<u64, Msg>,
    /// Standard queues: (next visible time, id) of every message.
    order: BTreeSet<(u64, u64)>,
    /// FIFO queues: messages per group.
    groups: HashMap<String, Group>,
    /// FIFO deduplication: id → (message id, sequence, expiry), and expiries in order.
    dedup: HashMap<String, (String, Option<u64>, u64)>,
    dedup_order: VecDeque<(u64, String)>,
    pub bytes: u64,
    pub next_sequence: u64,
    pub last_purge_ms: Option<u64>,
    /// In-flight count as of a recent scan (time, count), plus receives since: the limit
    /// check costs a scan of the queue at most once a second.
    in_flight_seen: (u64, usize),
    nonce: u64,
}

impl QueueState {
    pub fn new(config: QueueConfig, created_ms: u64) -> Self {
        Self {
            config,
            tags: BTreeMap::new(),
            created_ms,
            modified_ms: created_ms,
            messages: HashMap::new(),
            order: BTreeSet::new(),
            groups: HashMap::new(),
            dedup: HashMap::new(),
            dedup_order: VecDeque::new(),
            bytes: 0,
            next_sequence: 1,
            last_purge_ms: None,
            in_flight_seen: (0, 0),
            // Receipts of an earlier run must not match this run's receives.
            nonce: uuid::Uuid::new_v4().as_u64_pair().0 >> 1,
        }
    }

    pub fn len(&self) -> usize {
        self.messages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    pub fn get(&self, id: u64) -> Option<&Msg> {
        self.messages.get(&id)
    }

    pub fn get_mut(&mut self, id: u64) -> Option<&mut Msg> {
        self.messages.get_mut(&id)
    }

    /// A message's size changed from `old` to `new` bytes.
    pub fn resize(&mut self, old: usize, new: usize) {
        self.bytes = (self.bytes + new as u64).saturating_sub(old as u64);
    }

    /// The ids of every message, for a purge or a queue's deletion.
    pub fn ids(&self) -> Vec<u64> {
        self.messages.keys().copied().collect()
    }

    /// An earlier send with this deduplication id inside the window: its message id and
    /// sequence number.
    pub fn duplicate(&mut self, dedup_id: &str, now: u64) -> Option<(String, Option<u64>)> {
        while let Some((expiry, _)) = self.dedup_order.front() {
            if *expiry > now {
                break;
            }
            if let Some((_, id)) = self.dedup_order.pop_front()
                && self.dedup.get(&id).is_some_and(|e| e.2 <= now)
            {
                self.dedup.remove(&id);
            }
        }
        self.dedup
            .get(dedup_id)
            .filter(|e| e.2 > now)
            .map(|e| (e.0.clone(), e.1))
    }

    /// Remembers a deduplication id until `expiry` (of a message sent, or of one already
    /// gone whose window is still open, recovered from the journal).
    pub fn remember_dedup(
        &mut self,
        dedup: &str,
        message_id: &str,
        sequence: Option<u64>,
        expiry: u64,
    ) {
        self.dedup
            .insert(dedup.to_owned(), (message_id.to_owned(), sequence, expiry));
        self.dedup_order.push_back((expiry, dedup.to_owned()));
        if let Some(seq) = sequence {
            self.next_sequence = self.next_sequence.max(seq + 1);
        }
    }

    /// Adds a message (new, or recovered from the journal).
    pub fn insert(&mut self, mut msg: Msg) {
        if let Some(dedup) = &msg.deduplication_id {
            let expiry = msg.sent_ms + DEDUP_WINDOW_MS;
            self.remember_dedup(dedup, &msg.message_id.clone(), msg.sequence, expiry);
        }
        if let Some(seq) = msg.sequence {
            self.next_sequence = self.next_sequence.max(seq + 1);
        }
        msg.visible_ms = msg.available_ms;
        self.bytes += msg.size as u64;
        match &msg.group_id {
            Some(group) if self.config.fifo => {
                self.groups
                    .entry(group.clone())
                    .or_default()
                    .ids
                    .insert(msg.id);
            }
            _ => {
                self.order.insert((msg.visible_ms, msg.id));
            }
        }
        self.messages.insert(msg.id, msg);
    }

    /// Removes a message; returns it.
    pub fn remove(&mut self, id: u64) -> Option<Msg> {
        let msg = self.messages.remove(&id)?;
        self.bytes = self.bytes.saturating_sub(msg.size as u64);
        match &msg.group_id {
            Some(group) if self.config.fifo => {
                if let Some(g) = self.groups.get_mut(group) {
                    g.ids.remove(&id);
                    g.in_flight.remove(&id);
                    if g.ids.is_empty() {
                        self.groups.remove(group);
                    }
                }
            }
            _ => {
                self.order.remove(&(msg.visible_ms, id));
            }
        }
        Some(msg)
    }

    fn expired(&self, msg: &Msg, now: u64) -> bool {
        msg.sent_ms + u64::from(self.config.retention_seconds) * 1000 <= now
    }

    /// Marks a message received: new receipt, next visible after `visibility_ms`.
    /// (A standard message's place in `order` is the caller's to change.)
    fn receive(&mut self, queue: u64, id: u64, now: u64, visibility_ms: u64) -> Option<Received> {
        self.nonce += 1;
        let nonce = self.nonce;
        let msg = self.messages.get_mut(&id)?;
        msg.visible_ms = now + visibility_ms;
        msg.receive_count += 1;
        self.in_flight_seen.1 += 1;
        msg.nonce = nonce;
        let first = *msg.first_receive_ms.get_or_insert(now);
        let mut system = BTreeMap::new();
        system.insert("SenderId", msg.sender_id.clone());
        system.insert("SentTimestamp", msg.sent_ms.to_string());
        system.insert("ApproximateReceiveCount", msg.receive_count.to_string());
        system.insert("ApproximateFirstReceiveTimestamp", first.to_string());
        if let Some(group) = &msg.group_id {
            system.insert("MessageGroupId", group.clone());
        }
        if let Some(dedup) = &msg.deduplication_id {
            system.insert("MessageDeduplicationId", dedup.clone());
        }
        if let Some(seq) = msg.sequence {
            system.insert("SequenceNumber", sequence_number(seq));
        }
        if let Some(trace) = msg
            .system_attributes
            .get("AWSTraceHeader")
            .and_then(|v| v.string_value.clone())
        {
            system.insert("AWSTraceHeader", trace);
        }
        if let Some(source) = &msg.dead_letter_source {
            system.insert("DeadLetterQueueSourceArn", source.clone());
        }
        Some(Received {
            message_id: msg.message_id.clone(),
            receipt_handle: Receipt {
                queue,
                message: id,
                nonce,
            }
            .encode(),
            body: msg.body.clone(),
            md5_of_body: msg.md5_of_body.clone(),
            md5_of_attributes: msg.md5_of_attributes.clone(),
            attributes: msg.attributes.clone(),
            system,
        })
    }

    /// Whether message `id` goes to the dead-letter queue instead of being received again.
    fn dead(&self, id: u64, redrive: bool) -> bool {
        match (&self.config.redrive, self.messages.get(&id)) {
            (Some(policy), Some(msg)) if redrive => msg.receive_count >= policy.max_receive_count,
            _ => false,
        }
    }

    /// Receives up to `max` messages visible at `now`. With `redrive` (the dead-letter
    /// queue exists), messages received `maxReceiveCount` times leave instead.
    pub fn take(
        &mut self,
        queue: u64,
        now: u64,
        max: usize,
        visibility_ms: u64,
        redrive: bool,
    ) -> Taken {
        let mut taken = Taken::default();
        if self.config.fifo {
            self.take_fifo(queue, now, max, visibility_ms, redrive, &mut taken);
        }
        // Standard queues, and messages of a FIFO queue without a group (none are accepted;
        // kept for safety).
        // Received messages go back into `order` only at the end, so a visibility timeout
        // of 0 cannot hand one message out twice in one receive.
        let mut back = Vec::new();
        while taken.received.len() < max {
            let Some(&(visible, id)) = self.order.first() else {
                break;
            };
            if visible > now {
                break;
            }
            if !self.messages.contains_key(&id) {
                self.order.remove(&(visible, id));
                continue;
            }
            let expired = self.messages.get(&id).is_some_and(|m| self.expired(m, now));
            if expired {
                taken.expired.extend(self.remove(id));
            } else if self.dead(id, redrive) {
                taken.dead.extend(self.remove(id));
            } else {
                self.order.remove(&(visible, id));
                if let Some(received) = self.receive(queue, id, now, visibility_ms) {
                    taken.received.push((id, received));
                    back.push((now + visibility_ms, id));
                }
            }
        }
        self.order.extend(back);
        taken
    }

    fn take_fifo(
        &mut self,
        queue: u64,
        now: u64,
        max: usize,
        visibility_ms: u64,
        redrive: bool,
        taken: &mut Taken,
    ) {
        // Groups whose messages are all visible again unblock; the rest stay blocked.
        let mut ready: Vec<(u64, String)> = Vec::new();
        for (name, group) in &mut self.groups {
            let messages = &self.messages;
            group
                .in_flight
                .retain(|id| messages.get(id).is_some_and(|m| m.in_flight(now)));
            if !group.in_flight.is_empty() {
                continue;
            }
            if let Some(&head) = group.ids.first()
                && messages.get(&head).is_some_and(|m| m.visible_ms <= now)
            {
                ready.push((head, name.clone()));
            }
        }
        ready.sort_unstable();
        for (_, name) in ready {
            if taken.received.len() >= max {
                break;
            }
            let ids: Vec<u64> = match self.groups.get(&name) {
                Some(g) => g.ids.iter().copied().collect(),
                None => continue,
            };
            for id in ids {
                if taken.received.len() >= max {
                    break;
                }
                let Some(msg) = self.messages.get(&id) else {
                    continue;
                };
                if msg.visible_ms > now {
                    break;
                }
                if self.expired(msg, now) {
                    taken.expired.extend(self.remove(id));
                    continue;
                }
                if self.dead(id, redrive) {
                    taken.dead.extend(self.remove(id));
                    continue;
                }
                if let Some(received) = self.receive(queue, id, now, visibility_ms) {
                    if let Some(g) = self.groups.get_mut(&name) {
                        g.in_flight.insert(id);
                    }
                    taken.received.push((id, received));
                }
            }
        }
    }

    /// Sets when an in-flight message is visible again.
    pub fn change_visibility(
        &mut self,
        receipt: Receipt,
        now: u64,
        visibility_ms: u64,
    ) -> Result<(), VisibilityRefusal> {
        let fifo = self.config.fifo;
        let msg = self
            .messages
            .get_mut(&receipt.message)
            .filter(|m| m.in_flight(now))
            .ok_or(VisibilityRefusal::NotInFlight)?;
        if msg.nonce != receipt.nonce {
            return Err(VisibilityRefusal::Stale);
        }
        if !fifo || msg.group_id.is_none() {
            self.order.remove(&(msg.visible_ms, receipt.message));
            self.order.insert((now + visibility_ms, receipt.message));
        }
        msg.visible_ms = now + visibility_ms;
        Ok(())
    }

    /// When the next message not visible now becomes visible (a long poll wakes then).
    pub fn next_visible(&self, now: u64) -> Option<u64> {
        let standard = self.order.range((now + 1, 0)..).next().map(|&(t, _)| t);
        let fifo = self
            .groups
            .values()
            .flat_map(|g| g.in_flight.iter().chain(g.ids.first()))
            .filter_map(|id| self.messages.get(id))
            .map(|m| m.visible_ms)
            .filter(|&t| t > now)
            .min();
        match (standard, fifo) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Messages past retention at `now`.
    pub fn expired_ids(&self, now: u64) -> Vec<u64> {
        self.messages
            .values()
            .filter(|m| self.expired(m, now))
            .map(|m| m.id)
            .collect()
    }

    pub fn counts(&self, now: u64) -> Counts {
        let mut counts = Counts::default();
        for msg in self.messages.values() {
            if msg.in_flight(now) {
                counts.in_flight += 1;
            } else if msg.visible_ms > now && msg.receive_count == 0 {
                counts.delayed += 1;
            } else {
                counts.visible += 1;
            }
            counts.oldest_sent_ms = Some(
                counts
                    .oldest_sent_ms
                    .map_or(msg.sent_ms, |o: u64| o.min(msg.sent_ms)),
            );
        }
        counts
    }

    /// About how many messages are in flight: exact as of a scan at most a second old, plus
    /// the receives since (deletes since are not subtracted, so it errs high).
    pub fn in_flight_estimate(&mut self, now: u64) -> usize {
        if now >= self.in_flight_seen.0 + 1000 {
            self.in_flight_seen = (now, self.counts(now).in_flight);
        }
        self.in_flight_seen.1
    }

    /// The id to give the next FIFO message.
    pub fn sequence(&mut self) -> u64 {
        let seq = self.next_sequence;
        self.next_sequence += 1;
        seq
    }

    /// Every message, for a redrive task.
    pub fn messages(&self) -> impl Iterator<Item = &Msg> {
        self.messages.values()
    }
}

/// A FIFO `SequenceNumber`: 20 digits, as SQS writes them.
pub fn sequence_number(seq: u64) -> String {
    format!("{seq:020}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Redrive;

    fn msg(id: u64, group: Option<&str>, sent: u64) -> Msg {
        Msg {
            id,
            message_id: format!("m{id}"),
            body: format!("b{id}"),
            attributes: BTreeMap::new(),
            system_attributes: BTreeMap::new(),
            md5_of_body: String::new(),
            md5_of_attributes: None,
            sent_ms: sent,
            available_ms: sent,
            group_id: group.map(str::to_owned),
            deduplication_id: None,
            sequence: None,
            sender_id: "s".into(),
            receive_count: 0,
            first_receive_ms: None,
            dead_letter_source: None,
            size: 2,
            visible_ms: 0,
            nonce: 0,
        }
    }

    fn standard() -> QueueState {
        QueueState::new(QueueConfig::from(BTreeMap::new()), 0)
    }

    fn fifo() -> QueueState {
        let mut raw = BTreeMap::new();
        raw.insert("FifoQueue".to_owned(), "true".to_owned());
        QueueState::new(QueueConfig::from(raw), 0)
    }

    fn bodies(taken: &Taken) -> Vec<String> {
        taken.received.iter().map(|(_, r)| r.body.clone()).collect()
    }

    #[test]
    fn visibility_hides_a_received_message_until_it_expires_or_changes() {
        let mut q = standard();
        q.insert(msg(1, None, 0));
        q.insert(msg(2, None, 0));
        let first = q.take(9, 10, 1, 30_000, true);
        assert_eq!(bodies(&first), ["b1"]);
        assert_eq!(bodies(&q.take(9, 10, 10, 30_000, true)), ["b2"]);
        assert!(q.take(9, 20_000, 10, 30_000, true).received.is_empty());
        assert_eq!(q.counts(20_000).in_flight, 2);
        assert_eq!(q.next_visible(20_000), Some(30_010));
        let again = q.take(9, 30_010, 10, 30_000, true);
        assert_eq!(bodies(&again), ["b1", "b2"]);
        assert_eq!(again.received[0].1.system["ApproximateReceiveCount"], "2");
        // The first receipt is stale now; the latest one moves the message.
        let old = Receipt::decode(&first.received[0].1.receipt_handle).expect("receipt");
        assert_eq!(
            q.change_visibility(old, 30_020, 0),
            Err(VisibilityRefusal::Stale)
        );
        let new = Receipt::decode(&again.received[0].1.receipt_handle).expect("receipt");
        assert_eq!(q.change_visibility(new, 30_020, 0), Ok(()));
        assert_eq!(bodies(&q.take(9, 30_020, 10, 30_000, true)), ["b1"]);
        q.remove(1);
        assert_eq!(
            q.change_visibility(new, 30_030, 0),
            Err(VisibilityRefusal::NotInFlight)
        );
    }

    #[test]
    fn delays_retention_and_redrive() {
        let mut q = standard();
        let mut delayed = msg(1, None, 0);
        delayed.available_ms = 5_000;
        q.insert(delayed);
        assert_eq!(q.counts(0).delayed, 1);
        assert!(q.take(1, 4_999, 10, 1_000, true).received.is_empty());
        assert_eq!(q.next_visible(0), Some(5_000));
        assert_eq!(bodies(&q.take(1, 5_000, 10, 1_000, true)), ["b1"]);

        let retention_ms = u64::from(q.config.retention_seconds) * 1000;
        q.insert(msg(2, None, 10));
        let late = q.take(1, 10 + retention_ms, 10, 1_000, true);
        let expired: Vec<u64> = late.expired.iter().map(|m| m.id).collect();
        assert_eq!(expired, [2, 1], "in the order they became visible");
        assert!(q.is_empty());

        q.config.redrive = Some(Redrive {
            dead_letter_target_arn: "arn:aws:sqs:r:1:dlq".into(),
            max_receive_count: 2,
        });
        q.insert(msg(3, None, 0));
        assert_eq!(q.take(1, 0, 10, 0, true).received.len(), 1);
        assert_eq!(q.take(1, 0, 10, 0, true).received.len(), 1);
        let third = q.take(1, 0, 10, 0, true);
        assert!(third.received.is_empty());
        assert_eq!(third.dead.len(), 1, "moved after maxReceiveCount receives");
        assert!(q.is_empty());
    }

    #[test]
    fn fifo_groups_are_in_order_and_blocked_while_in_flight() {
        let mut q = fifo();
        for (id, group) in [(1, "a"), (2, "b"), (3, "a"), (4, "b"), (5, "c")] {
            q.insert(msg(id, Some(group), 0));
        }
        let first = q.take(1, 0, 2, 30_000, true);
        assert_eq!(
            bodies(&first),
            ["b1", "b3"],
            "one group's messages together, in order"
        );
        let second = q.take(1, 0, 10, 30_000, true);
        assert_eq!(bodies(&second), ["b2", "b4", "b5"]);
        assert!(
            q.take(1, 1, 10, 30_000, true).received.is_empty(),
            "every group blocked"
        );
        // Group a's first message is done; its second, still in flight, keeps it blocked.
        q.remove(1);
        assert!(q.take(1, 2, 10, 30_000, true).received.is_empty());
        q.remove(3);
        q.insert(msg(6, Some("a"), 3));
        assert_eq!(bodies(&q.take(1, 3, 10, 30_000, true)), ["b6"]);
        // b's visibility ends: it comes back in its original order.
        assert_eq!(
            bodies(&q.take(1, 30_000, 10, 30_000, true)),
            ["b2", "b4", "b5"]
        );
    }

    #[test]
    fn deduplication_lasts_five_minutes() {
        let mut q = fifo();
        let mut m = msg(1, Some("g"), 0);
        m.deduplication_id = Some("d".into());
        m.sequence = Some(7);
        q.insert(m);
        assert_eq!(
            q.duplicate("d", DEDUP_WINDOW_MS - 1),
            Some(("m1".into(), Some(7)))
        );
        assert_eq!(q.duplicate("d", DEDUP_WINDOW_MS), None);
        assert_eq!(q.sequence(), 8);
    }

    #[test]
    fn receipts_round_trip_and_garbage_is_refused() {
        let r = Receipt {
            queue: 1,
            message: u64::MAX,
            nonce: 3,
        };
        assert_eq!(Receipt::decode(&r.encode()), Some(r));
        assert_eq!(Receipt::decode("garbage"), None);
        assert_eq!(Receipt::decode(""), None);
    }
}
