//! The pure VRRP protocol core: no sockets, no clock, no async.
//!
//! - [`instance`]: one virtual router's state machine (RFC 9568 section 6).
//! - [`health`]: effective priority from checks, interfaces, files and processes.
//! - [`follow`]: `follow_patroni`, addresses held while Patroni's leader.
//! - [`leadership`]: when an etcd lease lets an instance be master.
//! - [`node`]: all instances of a node, with sync groups.
//! - [`timers`]: Skew_Time and Master_Down_Interval arithmetic.
//! - [`time`]: the virtual time every input carries.

pub mod fault;
pub mod follow;
pub mod health;
pub mod instance;
pub mod leadership;
pub mod node;
pub mod time;
pub mod timers;

pub use fault::Fault;
pub use health::{Adjustment, CheckTracker, FILE_VALUE_LIMIT, Health, HealthTracker};
pub use instance::{
    Action, DropReason, Event, GroupCause, HeardMaster, Instance, LeadershipLoss, Params, Reason,
    Report, State, Transition,
};
pub use leadership::{Leadership, LeaseAction, LeaseEvent, LeaseSettings, OnEtcdLoss};
pub use node::{GroupId, InstanceId, Member, Node, Output, SyncGroup};
pub use time::Time;
