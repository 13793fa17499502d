//! Raw auditd logs (`/var/log/audit/audit.log`, ENRICHED format, forwarded with `node=`): one
//! process execution is six records sharing a serial — SYSCALL, EXECVE, CWD, two PATH, PROCTITLE
//! — with arguments hex-encoded where auditd encodes them. Command lines come from the same
//! templates as the Linux corpus, so the planted attacks are the same.

use std::fmt::Write as _;
use std::io::Write;

use anyhow::Result;

use crate::common::{attack_positions, write_planted, Clock, Opts};
use crate::linux_templates::{ATTACKS, BENIGN, CWDS, NOISY};
use crate::rng::Rng;
use crate::vocab::{self, expand};

/// auditd writes a value as `"text"` unless it holds a space, a double quote, a control or a
/// non-ASCII byte; then as bare upper-case hex.
fn value(s: &str) -> String {
    if s.bytes().all(|b| b > 0x20 && b < 0x7f && b != b'"') {
        format!("\"{s}\"")
    } else {
        hex(s.as_bytes())
    }
}

fn hex(b: &[u8]) -> String {
    let mut o = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(o, "{x:02X}");
    }
    o
}

fn uid_of(user: &str) -> u32 {
    match user {
        "root" => 0,
        "nobody" => 65534,
        u => 1000 + (u.bytes().map(u32::from).sum::<u32>() % 97),
    }
}

pub fn generate(opts: &Opts, out: &mut impl Write, planted: &mut impl Write) -> Result<()> {
    let mut rng = Rng::new(opts.seed ^ 0x0061_7564_6974);
    let attacks_at = attack_positions(&mut rng, opts.events, opts.attacks);
    let mut next_attack = attacks_at.iter().peekable();
    let mut clock = Clock::new(86_400_000_000_000 / opts.events.max(1));
    let mut serial: u64 = rng.range(100_000, 900_000);
    let mut line: u64 = 1;
    let mut attack_no = 0usize;
    let mut buf = String::with_capacity(4096);
    for i in 0..opts.events {
        clock.tick(&mut rng);
        serial += rng.range(1, 12);
        let is_attack = next_attack.peek().is_some_and(|&&p| p == i);
        let (image, cmd, user, cwd, tags): (&str, String, &str, String, &[&str]);
        if is_attack {
            next_attack.next();
            let at = &ATTACKS[attack_no % ATTACKS.len()];
            attack_no += 1;
            image = at.image;
            cmd = expand(at.cmd, &mut rng);
            user = if at.user.is_empty() {
                rng.pick(&["root", "root", "www-data", "app"])
            } else {
                at.user
            };
            cwd = if at.cwd.is_empty() {
                rng.pick(&["/tmp", "/", "/root", "/dev/shm"]).to_string()
            } else {
                at.cwd.to_string()
            };
            tags = at.tags;
        } else {
            let (img, tpl) = if rng.chance(0.012) {
                rng.pick(NOISY)
            } else {
                rng.pick(BENIGN)
            };
            image = img;
            cmd = expand(tpl, &mut rng);
            user = rng.pick(vocab::USERS);
            cwd = expand(rng.pick(CWDS), &mut rng);
            tags = &[];
        }
        let node = rng.pick(vocab::NODES);
        let secs = clock.ns / 1_000_000_000;
        let millis = (clock.ns / 1_000_000) % 1000;
        let stamp = format!("msg=audit({secs}.{millis:03}:{serial})");
        let uid = uid_of(user);
        let auid = if user == "root" && rng.chance(0.5) {
            4_294_967_295
        } else {
            uid
        };
        let auid_name = if auid == 4_294_967_295 { "unset" } else { user };
        let pid = rng.range(300, 4_194_304);
        let ppid = rng.range(1, 4_194_304);
        let argv: Vec<&str> = cmd.split_ascii_whitespace().collect();
        let comm: String = image
            .rsplit('/')
            .next()
            .unwrap_or(image)
            .chars()
            .take(15)
            .collect();
        let tty = if rng.chance(0.1) { "pts0" } else { "(none)" };
        let ses = if auid == 4_294_967_295 {
            4_294_967_295
        } else {
            rng.range(1, 400)
        };
        buf.clear();
        let _ = writeln!(
            buf,
            "node={node} type=SYSCALL {stamp}: arch=c000003e syscall=59 success=yes exit=0 a0={:x} a1={:x} a2={:x} a3={:x} items=2 ppid={ppid} pid={pid} auid={auid} uid={uid} gid={uid} euid={uid} suid={uid} fsuid={uid} egid={uid} sgid={uid} fsgid={uid} tty={tty} ses={ses} comm={} exe=\"{image}\" subj=unconfined key=\"exec\"\x1dARCH=x86_64 SYSCALL=execve AUID=\"{auid_name}\" UID=\"{user}\" GID=\"{user}\" EUID=\"{user}\" SUID=\"{user}\" FSUID=\"{user}\" EGID=\"{user}\" SGID=\"{user}\" FSGID=\"{user}\"",
            rng.range(0x5500_0000_0000, 0x5600_0000_0000),
            rng.range(0x5500_0000_0000, 0x5600_0000_0000),
            rng.range(0x5500_0000_0000, 0x5600_0000_0000),
            rng.range(0, 0x1000),
            value(&comm),
        );
        let _ = write!(buf, "node={node} type=EXECVE {stamp}: argc={}", argv.len());
        for (n, a) in argv.iter().enumerate() {
            let _ = write!(buf, " a{n}={}", value(a));
        }
        buf.push('\n');
        let _ = writeln!(buf, "node={node} type=CWD {stamp}: cwd={}", value(&cwd));
        let _ = writeln!(
            buf,
            "node={node} type=PATH {stamp}: item=0 name={} inode={} dev=fd:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0\x1dOUID=\"root\" OGID=\"root\"",
            value(image),
            rng.range(100_000, 9_000_000)
        );
        let _ = writeln!(
            buf,
            "node={node} type=PATH {stamp}: item=1 name=\"/lib64/ld-linux-x86-64.so.2\" inode={} dev=fd:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0\x1dOUID=\"root\" OGID=\"root\"",
            rng.range(100_000, 9_000_000)
        );
        // The kernel keeps the first 128 bytes of the NUL-separated argv.
        let title = argv.join("\0");
        let title = &title.as_bytes()[..title.len().min(128)];
        let _ = writeln!(
            buf,
            "node={node} type=PROCTITLE {stamp}: proctitle={}",
            hex(title)
        );
        out.write_all(buf.as_bytes())?;
        if is_attack {
            write_planted(planted, line, &format!("{secs}.{millis:03}:{serial}"), tags)?;
        }
        line += 6;
    }
    Ok(())
}
