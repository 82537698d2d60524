//! Why a keepalived keyword is not carried over, for the warnings. Keywords
//! the translator understands never reach this table.

/// Where a keyword appears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Context {
    Top,
    Global,
    Script,
    /// Inside `track_file` and `vrrp_track_process` blocks.
    Tracked,
    Instance,
    SyncGroup,
}

const LVS: &str = "LVS load balancing is out of scope for vipd";
const EMAIL: &str = "email alerts are not supported; send them from a notify hook";
const FIREWALL: &str = "vipd installs no firewall rules";
const PROCESS: &str =
    "keepalived process setting; vipd has no equivalent (use systemd for process settings)";
const STATIC: &str = "vipd manages only the virtual addresses; configure static addresses, routes and rules with the system's network configuration";
const ROUTES: &str = "vipd moves addresses only, not routes or rules; add them from notify_master and remove them from notify_backup, or with the system's network configuration";
const GARP_TUNING: &str = "vipd has no equivalent gratuitous ARP setting; it uses garp_repeat, garp_delay and garp_refresh";
const VMAC: &str =
    "vipd does not create a VRRP MAC interface; the addresses go on the instance's interface";

/// The reason `keyword` is dropped in `context`.
pub(super) fn reason(context: Context, keyword: &str) -> &'static str {
    if keyword.starts_with("lvs_") || keyword.starts_with("checker_") {
        return LVS;
    }
    if keyword.starts_with("bfd") || keyword == "track_bfd" {
        return "BFD is not supported";
    }
    if keyword.starts_with("smtp_")
        || keyword.starts_with("notification_email")
        || matches!(keyword, "no_email_faults" | "email_faults")
    {
        return EMAIL;
    }
    if keyword.contains("snmp") || keyword == "enable_traps" {
        return "SNMP is not supported; vipd can serve metrics instead (metrics_listen)";
    }
    if keyword.contains("dbus") {
        return "D-Bus is not supported";
    }
    if keyword.contains("notify_fifo") {
        return "notify FIFOs are not supported; use the notify hook, which gets the same fields";
    }
    if keyword.contains("iptables") || keyword.contains("nftables") || keyword.contains("ipsets") {
        return FIREWALL;
    }
    match (context, keyword) {
        (
            Context::Top,
            "virtual_server" | "virtual_server_group" | "real_server" | "ipvs_syncd",
        ) => LVS,
        (Context::Top, "static_ipaddress" | "static_routes" | "static_rules" | "track_group") => {
            STATIC
        }
        (Context::Top, "garp_group") => GARP_TUNING,
        (Context::Top, "linkbeat_interfaces") => {
            "vipd follows link state from the kernel's netlink events"
        }
        (Context::Top | Context::Global, "net_namespace") => {
            "run vipd inside the namespace instead (ip netns exec, or systemd's NetworkNamespacePath=)"
        }
        (
            Context::Top,
            "net_namespace_ipvs"
            | "namespace_with_ipsets"
            | "instance"
            | "use_pid_dir"
            | "child_wait_time"
            | "linkbeat_use_polling",
        ) => PROCESS,
        (
            Context::Top,
            "include" | "includer" | "includem" | "includew" | "includeb" | "includea",
        ) => {
            "an include behind a conditional or parameter is not followed (keepalived does not follow it either)"
        }
        (Context::Global, "vrrp_mcast_group4" | "vrrp_mcast_group6") => {
            "vipd always uses the standard VRRP groups 224.0.0.18 and ff02::12"
        }
        (Context::Global, "vrrp_strict") => {
            "vipd has no strict mode; it follows RFC 9568 and accepts traffic to the addresses"
        }
        (
            Context::Global,
            "vrrp_garp_lower_prio_delay"
            | "vrrp_garp_lower_prio_repeat"
            | "vrrp_garp_master_refresh_repeat"
            | "vrrp_garp_interval"
            | "vrrp_gna_interval"
            | "vrrp_garp_extra_if"
            | "vrrp_garp_extra_if_vmac",
        ) => GARP_TUNING,
        (Context::Global, "default_interface") => "only used for static addresses",
        (Context::Global, "script_group") => {
            "vipd runs checks and hooks with the script_user's own group"
        }
        (Context::Global, k) if k.starts_with("vrrp_") => "vipd has no equivalent VRRP setting",
        (Context::Global, _) => PROCESS,
        (Context::Script, "user") => {
            "vipd runs every check and hook as [global] script_user; there is no per-check user"
        }
        (Context::Script, "init_fail") => {
            "vipd has no init_fail setting: as in keepalived without it, a check starts with no result: its first success makes it healthy, its first failure makes it failing, and its weight counts only from then on (a weight-0 check holds the instance in FAULT until it reports)"
        }
        (Context::Instance, "use_vmac" | "vmac_xmit_base" | "use_vmac_addr" | "use_ipvlan") => VMAC,
        (Context::Instance, "virtual_routes" | "virtual_rules") => ROUTES,
        (Context::Instance, "virtual_ipaddress_excluded") => {
            "vipd announces every address it adds; move these to virtual_ipaddress on all nodes at once, or add them from notify hooks"
        }
        (Context::Instance, "dont_track_primary") => {
            "vipd always puts an instance in Fault when its own interface goes down"
        }
        (Context::Instance, "no_accept") => {
            "vipd installs no firewall rules, so the addresses always accept traffic"
        }
        (Context::Instance, "strict_mode") => "vipd has no strict mode",
        (Context::Instance, "mcast_dst_ip") => {
            "vipd always uses the standard VRRP groups 224.0.0.18 and ff02::12"
        }
        (
            Context::Instance,
            "garp_lower_prio_delay"
            | "garp_lower_prio_repeat"
            | "garp_master_refresh_repeat"
            | "garp_extra_if"
            | "garp_extra_if_vmac",
        ) => GARP_TUNING,
        (
            Context::Instance | Context::SyncGroup,
            "notify_master_rx_lower_pri" | "notify_deleted" | "notify_priority_changes",
        ) => {
            "vipd has no such hook; it runs notify_master, notify_backup, notify_fault, notify_stop and notify"
        }
        (Context::Instance, "promote_secondaries") => {
            "vipd does not change interface settings; set net.ipv4.conf.IF.promote_secondaries with sysctl"
        }
        _ => "no vipd equivalent (or not a keepalived keyword)",
    }
}
