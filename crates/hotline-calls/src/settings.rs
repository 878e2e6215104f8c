//! `[sip]`: the telephone side's settings, each key declared once. The same struct is the
//! config file's section (serde) and, with the `cli` feature, the `serve` flags with their
//! `HOTLINE_*` environment variables (clap). Every value is typed and parsed at that edge
//! (a port range, IP addresses, the pacing mode, the pacer priority, `USER:PASSWORD`); every
//! field is optional so that the binary can layer file → env → flags, then
//! [`SipSettings::apply`] writes what is set into a [`CallServerConfig`].

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use hotline_media::pacer::{Pacer, PacerPriority, RtpPacing};
use hotline_media::port::PortRange;
use serde::{Deserialize, Serialize};

use crate::CallServerConfig;

/// `[sip]` in the config file; `serve`'s telephone flags.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
#[serde(deny_unknown_fields)]
pub struct SipSettings {
    /// Address put in Via/Contact (HOST:PORT) when callers reach us through NAT.
    #[cfg_attr(
        feature = "cli",
        arg(
            long = "sip-public",
            env = "HOTLINE_SIP_PUBLIC",
            value_name = "HOST:PORT"
        )
    )]
    pub public: Option<SocketAddr>,
    /// RTP port range FIRST-LAST (default 10000-20000).
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "HOTLINE_RTP_PORTS", value_name = "FIRST-LAST")
    )]
    pub rtp_ports: Option<PortRange>,
    /// Address RTP sockets bind (default 0.0.0.0).
    #[cfg_attr(feature = "cli", arg(long, env = "HOTLINE_MEDIA_IP"))]
    pub media_ip: Option<IpAddr>,
    /// Address written into SDP for RTP (default: the SIP public address, or the host's).
    #[cfg_attr(feature = "cli", arg(long, env = "HOTLINE_MEDIA_ADVERTISE"))]
    pub media_advertise: Option<IpAddr>,
    /// Real-time (SCHED_FIFO) priority of the thread that sends RTP on time, 1-99; 0 = the
    /// normal scheduler (default 10; needs root, CAP_SYS_NICE or LimitRTPRIO, else a warning).
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "HOTLINE_RTP_PACER_PRIORITY", value_name = "PRIO")
    )]
    pub rtp_pacer_priority: Option<PacerPriority>,
    /// Who sends playback frames: `thread` (default: one pacer thread sends every frame at
    /// its instant, the lowest jitter) or `timer` (each call's task on tokio's 1 ms timer:
    /// about a third less CPU, receiver jitter p99 ~1.5 ms instead of ~0.7 ms at 2,000 calls).
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "HOTLINE_RTP_PACING", value_name = "thread|timer")
    )]
    pub rtp_pacing: Option<RtpPacing>,
    /// The IVR's prompt catalog (default prompts/prompts.toml).
    #[cfg_attr(feature = "cli", arg(long, env = "HOTLINE_PROMPTS"))]
    pub prompts: Option<PathBuf>,
    /// An agent softphone allowed to register, USER:PASSWORD (repeatable; USER is the agent
    /// id). In the file: a table `[sip.agents]` of `user = "password"`. A flag wins over the
    /// file for the same user.
    #[cfg_attr(feature = "cli", arg(long = "sip-agent", value_name = "USER:PASSWORD"))]
    #[serde(default, with = "agent_table")]
    pub agents: Vec<SipAgent>,
    /// Record every call bridged to an agent (quality inspection) into DIR as
    /// `<call-id>.wav`, 8 kHz mono, both parties mixed (default: not recorded).
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "HOTLINE_QA_RECORDING_DIR", value_name = "DIR")
    )]
    pub qa_recording_dir: Option<PathBuf>,
}

/// An agent softphone's SIP credentials (`USER:PASSWORD` on the command line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipAgent {
    /// SIP user = the core's agent id.
    pub user: String,
    /// Digest password.
    pub password: String,
}

impl std::str::FromStr for SipAgent {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            Some((u, p)) if !u.is_empty() && !p.is_empty() => Ok(SipAgent {
                user: u.to_owned(),
                password: p.to_owned(),
            }),
            _ => Err(format!("{s:?} is not USER:PASSWORD")),
        }
    }
}

/// `agents` is a table `user = "password"` in the file (later entries win).
mod agent_table {
    use super::SipAgent;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    pub fn serialize<S: Serializer>(agents: &[SipAgent], s: S) -> Result<S::Ok, S::Error> {
        let map: BTreeMap<&str, &str> = agents
            .iter()
            .map(|a| (a.user.as_str(), a.password.as_str()))
            .collect();
        map.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SipAgent>, D::Error> {
        let map = BTreeMap::<String, String>::deserialize(d)?;
        map.into_iter()
            .map(|(user, password)| {
                if user.is_empty() || password.is_empty() {
                    Err(serde::de::Error::custom(format!(
                        "{user:?}: an agent needs a user and a password"
                    )))
                } else {
                    Ok(SipAgent { user, password })
                }
            })
            .collect()
    }
}

impl SipSettings {
    /// Writes every set value into `cfg` (unset ones keep `cfg`'s defaults).
    pub fn apply(&self, cfg: &mut CallServerConfig) {
        if let Some(p) = self.public {
            cfg.sip_public = Some(p);
        }
        if let Some(r) = self.rtp_ports {
            cfg.media.port_range = r;
        }
        if let Some(ip) = self.media_ip {
            cfg.media.local_ip = ip;
        }
        if let Some(ip) = self.media_advertise {
            cfg.media.advertised_ip = Some(ip);
        }
        if let Some(p) = self.rtp_pacer_priority {
            cfg.media.pacer = Some(Pacer::new(p.realtime()));
        }
        // Timer pacing: no pacer thread; the per-leg phase grid stays.
        if self.rtp_pacing == Some(RtpPacing::Timer) {
            cfg.media.pacer = None;
        }
        if let Some(p) = &self.prompts {
            cfg.prompts = p.clone();
        }
        let agents: BTreeMap<_, _> = self
            .agents
            .iter()
            .map(|a| (a.user.clone(), a.password.clone()))
            .collect();
        cfg.agents.extend(agents);
        if let Some(d) = &self.qa_recording_dir {
            cfg.qa_recording_dir = Some(d.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_keys_parse_and_bad_values_name_themselves() {
        let s: SipSettings = toml::from_str(
            "rtp_ports = \"30000-30100\"\nrtp_pacing = \"timer\"\nrtp_pacer_priority = 0\n\
             media_ip = \"127.0.0.1\"\n[agents]\ns1 = \"pw\"\n",
        )
        .unwrap();
        assert_eq!(
            s.rtp_ports,
            Some(PortRange {
                first: 30000,
                last: 30100
            })
        );
        assert_eq!(s.rtp_pacing, Some(RtpPacing::Timer));
        let mut cfg = CallServerConfig::new("0.0.0.0:5060".parse().unwrap());
        s.apply(&mut cfg);
        assert!(cfg.media.pacer.is_none(), "timer pacing: no pacer thread");
        assert!(cfg.media.frame_grid.is_some(), "the phase grid stays");
        assert_eq!(cfg.media.port_range.first, 30000);
        assert_eq!(cfg.agents.get("s1").map(String::as_str), Some("pw"));
        for (text, says) in [
            ("rtp_ports = \"20000-1000\"", "lo < hi"),
            ("rtp_ports = \"80-90\"", "below 1024"),
            ("rtp_pacing = \"fast\"", "fast"),
            ("rtp_pacer_priority = 120", "1-99"),
            ("media_ip = \"example\"", "address"),
        ] {
            let e = toml::from_str::<SipSettings>(text).unwrap_err().to_string();
            assert!(e.contains(says), "{text}: {e}");
        }
        assert!("j1:pw".parse::<SipAgent>().is_ok());
        assert!("nopassword".parse::<SipAgent>().is_err());
        assert!(toml::from_str::<SipSettings>("rtp_port = \"1-2\"").is_err());
    }

    #[test]
    fn settings_round_trip_through_serde() {
        let s = SipSettings {
            rtp_ports: Some("20000-20100".parse().unwrap()),
            rtp_pacer_priority: Some(PacerPriority::try_from(5).unwrap()),
            agents: vec!["a:b".parse().unwrap()],
            ..Default::default()
        };
        let text = toml::to_string(&s).unwrap();
        assert_eq!(toml::from_str::<SipSettings>(&text).unwrap(), s);
    }
}
