//! Job queues sharing one compute environment's slots, scheduled as AWS
//! Batch schedules them: a free slot goes to the highest-priority queue
//! that has a RUNNABLE node, and within a queue to the node that became
//! RUNNABLE first (FIFO). Queues of equal priority are served as one FIFO.
//!
//! This is what makes the pipeline's second queue matter: with one queue,
//! a processing node whose procurement node just finished becomes RUNNABLE
//! behind every procurement node not started yet, so no egress completes
//! until nearly all procurement has run. The provider's later-stages
//! queue, at a higher priority on the same compute environment, lets it
//! take the next free slot instead (docs/architecture.md).
//!
//! SubmitJob names the queue; the runner knows no queue's priority from
//! AWS, so a queue takes the provider's default for the stages sent to it:
//! the queue procurement is submitted to gets `queue.priority`'s default,
//! one only later stages are submitted to gets `later_stages_priority`'s.
//! A definition with one queue for all three stages (what the state
//! machine data source emits without `later_stages_job_queue_arn`) so runs
//! as one FIFO queue, as it would on AWS.

use std::collections::VecDeque;

/// The provider's default `queue.priority` (the procurement queue).
pub const FIRST_STAGE_PRIORITY: i32 = 1;
/// The provider's default `queue.later_stages_priority`.
pub const LATER_STAGES_PRIORITY: i32 = 1000;

/// The RUNNABLE nodes, per queue. `(job, index)` name a node.
#[derive(Default)]
pub struct Queues {
    queues: Vec<Fifo>,
    /// Order in which nodes became RUNNABLE, across queues.
    next_seq: u64,
}

struct Fifo {
    name: String,
    priority: i32,
    /// (became RUNNABLE as the n-th node, job, index), oldest first.
    nodes: VecDeque<(u64, usize, u32)>,
}

impl Queues {
    /// The queue `name`, made on first use with the default priority for
    /// `stage` (see the module comment). Returns its handle.
    pub fn queue_for(&mut self, name: &str, stage: &str) -> usize {
        if let Some(q) = self.queues.iter().position(|q| q.name == name) {
            // Procurement sent to a queue that so far had only later
            // stages: it is the first stage's queue after all.
            if stage == contract::STAGE_NAMES[0] {
                self.queues[q].priority = self.queues[q].priority.min(FIRST_STAGE_PRIORITY);
            }
            return q;
        }
        let priority =
            if stage == contract::STAGE_NAMES[0] { FIRST_STAGE_PRIORITY } else { LATER_STAGES_PRIORITY };
        self.queues.push(Fifo { name: name.to_string(), priority, nodes: VecDeque::new() });
        self.queues.len() - 1
    }

    /// Node `index` of `job` became RUNNABLE on `queue`: it goes to the
    /// back of that queue (a retried node too, as on AWS).
    pub fn push(&mut self, queue: usize, job: usize, index: u32) {
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some(q) = self.queues.get_mut(queue) {
            q.nodes.push_back((seq, job, index));
        }
    }

    /// The node the next free slot runs: the oldest of the
    /// highest-priority queue that has one.
    pub fn pop(&mut self) -> Option<(usize, u32)> {
        let best = self
            .queues
            .iter()
            .enumerate()
            .filter_map(|(k, q)| q.nodes.front().map(|(seq, _, _)| (q.priority, std::cmp::Reverse(*seq), k)))
            .max()?;
        let (_, job, index) = self.queues[best.2].nodes.pop_front()?;
        Some((job, index))
    }

    /// The queues by name and priority, in the order they were first used.
    pub fn priorities(&self) -> Vec<(String, i32)> {
        self.queues.iter().map(|q| (q.name.clone(), q.priority)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(q: &mut Queues) -> Vec<(usize, u32)> {
        std::iter::from_fn(|| q.pop()).collect()
    }

    #[test]
    fn one_queue_is_first_in_first_out_whatever_the_stage() {
        let mut q = Queues::default();
        let only = q.queue_for("q", "procurement");
        assert_eq!(q.queue_for("q", "processing"), only);
        q.push(only, 0, 0);
        q.push(only, 0, 1);
        // Processing node 0 becomes RUNNABLE after procurement 0 and 1.
        q.push(only, 1, 0);
        q.push(only, 0, 2);
        assert_eq!(drain(&mut q), vec![(0, 0), (0, 1), (1, 0), (0, 2)]);
        assert_eq!(q.priorities(), vec![("q".to_string(), FIRST_STAGE_PRIORITY)]);
    }

    #[test]
    fn the_higher_priority_queue_goes_first_and_each_queue_stays_fifo() {
        let mut q = Queues::default();
        let first = q.queue_for("p-queue", "procurement");
        let later = q.queue_for("p-stages-queue", "processing");
        assert_eq!(q.queue_for("p-stages-queue", "egress"), later);
        for i in 0..4 {
            q.push(first, 0, i);
        }
        q.push(later, 1, 3);
        q.push(later, 2, 1);
        q.push(later, 1, 0);
        assert_eq!(q.pop(), Some((1, 3)));
        q.push(first, 0, 9); // a retried procurement node: the back of its queue
        assert_eq!(drain(&mut q), vec![(2, 1), (1, 0), (0, 0), (0, 1), (0, 2), (0, 3), (0, 9)]);
        assert_eq!(
            q.priorities(),
            vec![("p-queue".into(), FIRST_STAGE_PRIORITY), ("p-stages-queue".into(), LATER_STAGES_PRIORITY)]
        );
    }

    #[test]
    fn a_queue_first_seen_with_a_later_stage_becomes_the_first_stages_when_procurement_arrives() {
        let mut q = Queues::default();
        let a = q.queue_for("a", "processing");
        let b = q.queue_for("b", "processing");
        assert_eq!(q.queue_for("a", "procurement"), a);
        q.push(a, 0, 0);
        q.push(b, 1, 0);
        assert_eq!(drain(&mut q), vec![(1, 0), (0, 0)]);
    }

    #[test]
    fn equal_priorities_are_served_as_one_fifo() {
        let mut q = Queues::default();
        let a = q.queue_for("a", "egress");
        let b = q.queue_for("b", "processing");
        q.push(b, 1, 0);
        q.push(a, 2, 0);
        q.push(b, 1, 1);
        assert_eq!(drain(&mut q), vec![(1, 0), (2, 0), (1, 1)]);
        assert_eq!(q.pop(), None);
    }
}
