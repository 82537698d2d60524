//! vip-manager's setting names: the current ones (1.0 on) and the older
//! spellings that 1.x and later still map onto them.

/// A vip-manager setting, whatever name the file gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Setting {
    Ip,
    Netmask,
    Interface,
    TriggerKey,
    TriggerValue,
    ManagerType,
    DcsType,
    DcsEndpoints,
    EtcdUser,
    EtcdPassword,
    EtcdCaFile,
    EtcdCertFile,
    EtcdKeyFile,
    ConsulToken,
    Interval,
    RetryAfter,
    RetryNum,
    Verbose,
}

/// Every name a file may use, with the setting it means. The first name of
/// each setting is its current one.
const NAMES: &[(&str, Setting)] = &[
    ("ip", Setting::Ip),
    ("netmask", Setting::Netmask),
    ("mask", Setting::Netmask),
    ("interface", Setting::Interface),
    ("iface", Setting::Interface),
    ("trigger-key", Setting::TriggerKey),
    ("key", Setting::TriggerKey),
    ("trigger-value", Setting::TriggerValue),
    ("nodename", Setting::TriggerValue),
    ("host", Setting::TriggerValue),
    // The program reads `manager-type`; its sample file has said
    // `hosting-type` since 1.0, and 0.x files `hosting_type`.
    ("manager-type", Setting::ManagerType),
    ("hosting-type", Setting::ManagerType),
    ("hosting_type", Setting::ManagerType),
    ("hostingtype", Setting::ManagerType),
    ("dcs-type", Setting::DcsType),
    ("endpoint_type", Setting::DcsType),
    ("type", Setting::DcsType),
    ("dcs-endpoints", Setting::DcsEndpoints),
    ("endpoints", Setting::DcsEndpoints),
    ("endpoint", Setting::DcsEndpoints),
    ("etcd-user", Setting::EtcdUser),
    ("etcd_user", Setting::EtcdUser),
    ("etcd-password", Setting::EtcdPassword),
    ("etcd_password", Setting::EtcdPassword),
    ("etcd-ca-file", Setting::EtcdCaFile),
    ("etcd_ca_file", Setting::EtcdCaFile),
    ("etcd-cert-file", Setting::EtcdCertFile),
    ("etcd_cert_file", Setting::EtcdCertFile),
    ("etcd-key-file", Setting::EtcdKeyFile),
    ("etcd_key_file", Setting::EtcdKeyFile),
    ("consul-token", Setting::ConsulToken),
    ("consul_token", Setting::ConsulToken),
    ("interval", Setting::Interval),
    ("retry-after", Setting::RetryAfter),
    ("retry_after", Setting::RetryAfter),
    ("retry-num", Setting::RetryNum),
    ("retry_num", Setting::RetryNum),
    ("verbose", Setting::Verbose),
];

impl Setting {
    /// The name vip-manager 1.0 and later document.
    pub(super) fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("?", |(name, _)| name)
    }

    /// The setting a key of the file names. Keys are case-insensitive, as
    /// vip-manager's configuration library treats them.
    pub(super) fn from_key(key: &str) -> Option<Setting> {
        let key = key.to_ascii_lowercase();
        NAMES.iter().find(|(name, _)| *name == key).map(|(_, s)| *s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_names_map_to_the_current_setting() {
        assert_eq!(Setting::from_key("iface"), Some(Setting::Interface));
        assert_eq!(Setting::from_key("MASK"), Some(Setting::Netmask));
        assert_eq!(Setting::from_key("endpoint_type"), Some(Setting::DcsType));
        assert_eq!(Setting::from_key("nodename"), Some(Setting::TriggerValue));
        assert_eq!(
            Setting::from_key("hosting-type"),
            Some(Setting::ManagerType)
        );
        assert_eq!(Setting::from_key("log-file"), None);
    }

    #[test]
    fn every_setting_has_its_current_name_first() {
        assert_eq!(Setting::Netmask.name(), "netmask");
        assert_eq!(Setting::ManagerType.name(), "manager-type");
        assert_eq!(Setting::DcsEndpoints.name(), "dcs-endpoints");
        assert_eq!(Setting::EtcdKeyFile.name(), "etcd-key-file");
    }
}
