//! Box status for the page and `/healthz`: CPU temperature, load, memory, free
//! disk of the data dir, uptime and, on a Raspberry Pi, throttling.
//!
//! Everything is read from files under /proc and /sys (and one `statvfs`), never
//! by running a program: no `vcgencmd`, no `df`. Anything that cannot be read on
//! this box is `None`, never an error; a read takes well under a millisecond.
//! This module owns no state and no thread, and does not decide how often it is
//! called or how the page shows the numbers.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// One snapshot of the box. Serialises as a flat JSON object; every field is
/// `null` when this box does not expose it.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct BoxStatus {
    /// CPU temperature in °C, from the thermal zone named like the CPU's
    /// (`cpu-thermal` on a Pi, `x86_pkg_temp` on a PC), else the first one.
    pub cpu_temp_c: Option<f64>,
    /// Load averages over 1, 5 and 15 minutes (/proc/loadavg).
    pub load_avg: Option<[f64; 3]>,
    /// Installed memory in bytes (/proc/meminfo `MemTotal`).
    pub mem_total_bytes: Option<u64>,
    /// Memory available to new programs without swapping, in bytes
    /// (/proc/meminfo `MemAvailable`): what matters before starting `claude`.
    pub mem_available_bytes: Option<u64>,
    /// Bytes an unprivileged user can still write on the data dir's filesystem.
    pub disk_free_bytes: Option<u64>,
    /// Size of the data dir's filesystem in bytes.
    pub disk_total_bytes: Option<u64>,
    /// Seconds since the box booted (/proc/uptime).
    pub uptime_secs: Option<u64>,
    /// Raspberry Pi firmware throttling flags; `None` off a Pi.
    pub throttled: Option<Throttled>,
}

/// The Pi firmware's `get_throttled` word, decoded. Same bits as
/// `vcgencmd get_throttled`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Throttled {
    /// The raw bit mask, for anyone who wants the bits the names leave out.
    pub raw: u32,
    /// Conditions active right now, e.g. `["under-voltage", "throttled"]`.
    pub now: Vec<&'static str>,
    /// Conditions that have occurred since boot.
    pub since_boot: Vec<&'static str>,
}

/// Names of the low four bits; the same four, shifted by 16, mean "has occurred".
const THROTTLE_BITS: [&str; 4] = [
    "under-voltage",
    "frequency-capped",
    "throttled",
    "soft-temperature-limit",
];

/// Thermal zone types that are the CPU's, best first.
const CPU_ZONE_TYPES: [&str; 4] = ["cpu-thermal", "cpu_thermal", "x86_pkg_temp", "soc_thermal"];

/// Reads the status of this box; `data_dir` is where the server keeps its data
/// (it may not exist yet: then the nearest existing parent is measured).
pub fn read(data_dir: &Path) -> BoxStatus {
    read_from(Path::new("/"), data_dir)
}

/// Same as [`read`], with /proc and /sys looked up under `root`, so tests can
/// build a fake tree. `data_dir` is a real path (statvfs needs a real mount).
pub fn read_from(root: &Path, data_dir: &Path) -> BoxStatus {
    let (disk_free_bytes, disk_total_bytes) = disk_space(data_dir).unzip();
    let meminfo = read_text(&root.join("proc/meminfo"));
    BoxStatus {
        cpu_temp_c: cpu_temp_c(&root.join("sys/class/thermal")),
        load_avg: read_text(&root.join("proc/loadavg")).and_then(|s| parse_loadavg(&s)),
        mem_total_bytes: meminfo
            .as_deref()
            .and_then(|s| meminfo_bytes(s, "MemTotal")),
        mem_available_bytes: meminfo
            .as_deref()
            .and_then(|s| meminfo_bytes(s, "MemAvailable")),
        disk_free_bytes,
        disk_total_bytes,
        uptime_secs: read_text(&root.join("proc/uptime")).and_then(|s| parse_uptime(&s)),
        throttled: throttled_file(root)
            .and_then(|p| read_text(&p))
            .and_then(|s| parse_throttled(&s)),
    }
}

/// A small text file, or `None` if it is missing or unreadable.
fn read_text(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok()
}

/// `"0.37 0.16 0.06 1/123 4567"` → `[0.37, 0.16, 0.06]`.
fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut fields = text.split_ascii_whitespace().map(|f| f.parse::<f64>().ok());
    Some([fields.next()??, fields.next()??, fields.next()??])
}

/// The value of `key` in /proc/meminfo (`"MemTotal:  3884512 kB"`), in bytes.
fn meminfo_bytes(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.split(':').next() == Some(key))?;
    let mut fields = line.split(':').nth(1)?.split_ascii_whitespace();
    let value: u64 = fields.next()?.parse().ok()?;
    match fields.next() {
        Some("kB") => value.checked_mul(1024),
        None => Some(value),
        Some(_) => None,
    }
}

/// `"350.12 1234.56"` (seconds up, seconds idle) → `350`.
fn parse_uptime(text: &str) -> Option<u64> {
    let secs: f64 = text.split_ascii_whitespace().next()?.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then_some(secs as u64)
}

/// A thermal zone's `temp` is in millidegrees Celsius: `"48312"` → `48.312`.
fn parse_millidegrees(text: &str) -> Option<f64> {
    let milli: i64 = text.trim().parse().ok()?;
    Some(milli as f64 / 1000.0)
}

/// The firmware prints the word in hex without a prefix (`"50005"`); accept
/// `0x` too.
fn parse_throttled(text: &str) -> Option<Throttled> {
    let hex = text.trim();
    let hex = hex.strip_prefix("0x").unwrap_or(hex);
    let raw = u32::from_str_radix(hex, 16).ok()?;
    let names = |shift: u32| {
        THROTTLE_BITS
            .iter()
            .enumerate()
            .filter(|&(bit, _)| raw & (1 << (bit as u32 + shift)) != 0)
            .map(|(_, &name)| name)
            .collect()
    };
    Some(Throttled {
        raw,
        now: names(0),
        since_boot: names(16),
    })
}

/// Picks the CPU's thermal zone under `/sys/class/thermal` and reads it.
fn cpu_temp_c(thermal: &Path) -> Option<f64> {
    let mut zones: Vec<(u32, PathBuf)> = fs::read_dir(thermal)
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let number = entry
                .file_name()
                .to_str()?
                .strip_prefix("thermal_zone")?
                .parse()
                .ok()?;
            Some((number, entry.path()))
        })
        .collect();
    // Numeric order, so thermal_zone10 comes after thermal_zone2.
    zones.sort();
    let zone_type = |zone: &Path| read_text(&zone.join("type")).map(|t| t.trim().to_owned());
    let temp = |zone: &Path| read_text(&zone.join("temp")).and_then(|t| parse_millidegrees(&t));
    let by_type = CPU_ZONE_TYPES.iter().find_map(|wanted| {
        zones
            .iter()
            .filter(|(_, zone)| zone_type(zone).as_deref() == Some(*wanted))
            .find_map(|(_, zone)| temp(zone))
    });
    by_type.or_else(|| zones.iter().find_map(|(_, zone)| temp(zone)))
}

/// Where the Pi firmware driver exposes `get_throttled`: under `soc` on Pi 1–4,
/// under an address-named `soc@…` node on newer device trees.
fn throttled_file(root: &Path) -> Option<PathBuf> {
    let platform = root.join("sys/devices/platform");
    let known = platform.join("soc/soc:firmware/get_throttled");
    if known.is_file() {
        return Some(known);
    }
    let socs = fs::read_dir(&platform).ok()?.filter_map(Result::ok);
    socs.filter(|soc| soc.file_name().to_string_lossy().starts_with("soc"))
        .filter_map(|soc| fs::read_dir(soc.path()).ok())
        .flat_map(|children| children.filter_map(Result::ok))
        .filter(|child| child.file_name().to_string_lossy().ends_with("firmware"))
        .map(|firmware| firmware.path().join("get_throttled"))
        .find(|path| path.is_file())
}

/// (free for unprivileged users, total) bytes of the filesystem holding `dir`,
/// or of its nearest existing ancestor.
fn disk_space(dir: &Path) -> Option<(u64, u64)> {
    let stat = dir
        .ancestors()
        .find_map(|path| rustix::fs::statvfs(path).ok())?;
    Some((
        stat.f_bavail.checked_mul(stat.f_frsize)?,
        stat.f_blocks.checked_mul(stat.f_frsize)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A directory under the system temp dir, removed when dropped.
    struct FakeRoot(PathBuf);

    impl FakeRoot {
        fn new(files: &[(&str, &str)]) -> FakeRoot {
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir()
                .join(format!("homeclaude-boxstatus-{}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            for (path, text) in files {
                let path = dir.join(path);
                fs::create_dir_all(path.parent().expect("test paths have a parent"))
                    .expect("create fake dir");
                fs::write(&path, text).expect("write fake file");
            }
            fs::create_dir_all(&dir).expect("create fake root");
            FakeRoot(dir)
        }
    }

    impl Drop for FakeRoot {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn check<T: PartialEq + std::fmt::Debug>(parse: impl Fn(&str) -> T, cases: &[(&str, T)]) {
        for (input, expect) in cases {
            assert_eq!(&parse(input), expect, "input {input:?}");
        }
    }

    const MEMINFO: &str = "MemTotal:        3884512 kB\nMemFree:          812340 kB\nMemAvailable:    2951232 kB\nHugePages_Total:       0\n";

    #[test]
    fn loadavg() {
        check(
            parse_loadavg,
            &[
                ("0.37 0.16 0.06 1/123 4567\n", Some([0.37, 0.16, 0.06])),
                ("12.00 8.50 4.25 3/900 1", Some([12.0, 8.5, 4.25])),
                ("0.37 0.16", None),
                ("busy 0.16 0.06 1/1 1", None),
                ("", None),
            ],
        );
    }

    #[test]
    fn meminfo() {
        check(
            |s| meminfo_bytes(s, "MemTotal"),
            &[
                (MEMINFO, Some(3884512 * 1024)),
                ("MemTotalX: 5 kB\nMemTotal: 7 kB\n", Some(7 * 1024)),
                ("MemTotal: lots kB\n", None),
                ("MemTotal: 7 MB\n", None),
                ("", None),
            ],
        );
        check(
            |s| meminfo_bytes(s, "MemAvailable"),
            &[
                (MEMINFO, Some(2951232 * 1024)),
                // Kernels before 3.14 have no MemAvailable.
                ("MemTotal: 7 kB\nMemFree: 5 kB\n", None),
            ],
        );
        check(
            |s| meminfo_bytes(s, "HugePages_Total"),
            &[(MEMINFO, Some(0))],
        );
    }

    #[test]
    fn uptime() {
        check(
            parse_uptime,
            &[
                ("350.12 1234.56\n", Some(350)),
                ("0.00 0.00", Some(0)),
                ("-1 0", None),
                ("soon", None),
                ("", None),
            ],
        );
    }

    #[test]
    fn millidegrees() {
        check(
            parse_millidegrees,
            &[
                ("48312\n", Some(48.312)),
                ("-5000", Some(-5.0)),
                ("", None),
                ("hot", None),
            ],
        );
    }

    #[test]
    fn throttled() {
        let t = |raw, now: &[&'static str], since_boot: &[&'static str]| {
            Some(Throttled {
                raw,
                now: now.to_vec(),
                since_boot: since_boot.to_vec(),
            })
        };
        check(
            parse_throttled,
            &[
                ("0\n", t(0, &[], &[])),
                (
                    "50005\n",
                    t(
                        0x50005,
                        &["under-voltage", "throttled"],
                        &["under-voltage", "throttled"],
                    ),
                ),
                (
                    "0x80008",
                    t(
                        0x80008,
                        &["soft-temperature-limit"],
                        &["soft-temperature-limit"],
                    ),
                ),
                ("20000", t(0x20000, &[], &["frequency-capped"])),
                ("zz", None),
                ("", None),
            ],
        );
    }

    #[test]
    fn cpu_zone_is_chosen_by_type_then_first() {
        let pi = FakeRoot::new(&[
            ("thermal_zone0/type", "gpu-thermal\n"),
            ("thermal_zone0/temp", "40000\n"),
            ("thermal_zone1/type", "cpu-thermal\n"),
            ("thermal_zone1/temp", "51500\n"),
        ]);
        assert_eq!(cpu_temp_c(&pi.0), Some(51.5));

        let pc = FakeRoot::new(&[
            ("thermal_zone2/type", "acpitz\n"),
            ("thermal_zone2/temp", "27800\n"),
            ("thermal_zone10/type", "x86_pkg_temp\n"),
            ("thermal_zone10/temp", "61000\n"),
            ("cooling_device0/type", "Processor\n"),
        ]);
        assert_eq!(cpu_temp_c(&pc.0), Some(61.0));

        // No zone named like a CPU: the lowest-numbered readable one, in
        // numeric rather than string order.
        let other = FakeRoot::new(&[
            ("thermal_zone10/type", "board\n"),
            ("thermal_zone10/temp", "30000\n"),
            ("thermal_zone2/type", "soc\n"),
            ("thermal_zone2/temp", "\n"),
            ("thermal_zone3/type", "pmic\n"),
            ("thermal_zone3/temp", "45000\n"),
        ]);
        assert_eq!(cpu_temp_c(&other.0), Some(45.0));

        let none = FakeRoot::new(&[]);
        assert_eq!(cpu_temp_c(&none.0), None);
        assert_eq!(cpu_temp_c(&none.0.join("missing")), None);
    }

    #[test]
    fn fake_pi_is_read_whole() {
        let root = FakeRoot::new(&[
            ("proc/loadavg", "0.50 0.25 0.10 2/300 999\n"),
            ("proc/meminfo", MEMINFO),
            ("proc/uptime", "86400.50 170000.00\n"),
            ("sys/class/thermal/thermal_zone0/type", "cpu-thermal\n"),
            ("sys/class/thermal/thermal_zone0/temp", "55012\n"),
            (
                "sys/devices/platform/soc/soc:firmware/get_throttled",
                "50000\n",
            ),
        ]);
        let status = read_from(&root.0, &root.0);
        // Free space moves with whatever else the machine writes: check it is
        // there and sane, and compare the rest exactly.
        let (free, total) = status
            .disk_free_bytes
            .zip(status.disk_total_bytes)
            .expect("statvfs of a temp dir");
        assert!(total > 0 && free <= total, "{free} {total}");
        assert_eq!(
            status,
            BoxStatus {
                cpu_temp_c: Some(55.012),
                load_avg: Some([0.5, 0.25, 0.1]),
                mem_total_bytes: Some(3884512 * 1024),
                mem_available_bytes: Some(2951232 * 1024),
                disk_free_bytes: Some(free),
                disk_total_bytes: Some(total),
                uptime_secs: Some(86400),
                throttled: Some(Throttled {
                    raw: 0x50000,
                    now: vec![],
                    since_boot: vec!["under-voltage", "throttled"]
                }),
            }
        );
    }

    #[test]
    fn newer_device_tree_throttled_path_is_found() {
        let root = FakeRoot::new(&[(
            "sys/devices/platform/soc@107c000000/soc@107c000000:firmware/get_throttled",
            "4\n",
        )]);
        let status = read_from(&root.0, &root.0);
        assert_eq!(status.throttled.map(|t| t.now), Some(vec!["throttled"]));
    }

    #[test]
    fn empty_root_gives_nulls_not_errors() {
        let root = FakeRoot::new(&[]);
        let status = read_from(&root.0, &root.0.join("not/yet/created"));
        // The data dir does not exist yet: its nearest existing parent is measured.
        assert!(status.disk_total_bytes.is_some());
        assert_eq!(
            status,
            BoxStatus {
                disk_free_bytes: status.disk_free_bytes,
                disk_total_bytes: status.disk_total_bytes,
                ..BoxStatus::default()
            }
        );
        let json = serde_json::to_string(&status).expect("serialise");
        assert!(
            json.contains(r#""cpu_temp_c":null"#) && json.contains(r#""throttled":null"#),
            "{json}"
        );
    }

    #[test]
    fn this_machine_has_proc() {
        let status = read(&std::env::temp_dir());
        assert!(status.load_avg.is_some(), "{status:?}");
        assert!(status.mem_total_bytes.is_some_and(|m| m > 0), "{status:?}");
        assert!(status.uptime_secs.is_some(), "{status:?}");
        assert!(status.disk_free_bytes.is_some(), "{status:?}");
    }

    #[test]
    fn serialises_as_flat_json() {
        let status = BoxStatus {
            cpu_temp_c: Some(48.5),
            load_avg: Some([1.0, 0.5, 0.25]),
            throttled: parse_throttled("1"),
            ..BoxStatus::default()
        };
        let json = serde_json::to_value(&status).expect("serialise");
        assert_eq!(json["cpu_temp_c"], 48.5);
        assert_eq!(json["load_avg"], serde_json::json!([1.0, 0.5, 0.25]));
        assert_eq!(
            json["throttled"]["now"],
            serde_json::json!(["under-voltage"])
        );
        assert_eq!(json["mem_total_bytes"], serde_json::Value::Null);
    }
}
