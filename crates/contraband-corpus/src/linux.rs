//! Linux process-creation events in Sigma field names (generic JSON lines), with container and
//! Kubernetes context on most of them and attacks planted at seeded positions.

use std::io::Write;

use anyhow::Result;
use serde_json::{json, Map, Value};

use crate::common::{attack_positions, write_line, write_planted, Clock, Opts};
use crate::linux_templates::{Attack, ATTACKS, BENIGN, CWDS, NOISY, PARENTS};
use crate::rng::Rng;
use crate::vocab::{self, expand};

/// Share of background events that come from the `NOISY` list.
const NOISY_SHARE: f64 = 0.012;
/// Share of events that run inside a container.
const CONTAINER_SHARE: f64 = 0.65;

struct Container {
    obj: Value,
}

fn container_pool(rng: &mut Rng, n: usize, bad: bool) -> Vec<Container> {
    (0..n)
        .map(|_| {
            let ns = rng.pick(vocab::NAMESPACES);
            let word = rng.pick(vocab::WORDS);
            let image = if bad {
                rng.pick(vocab::BAD_IMAGES)
            } else {
                rng.pick(vocab::IMAGES)
            };
            let runtime = rng.pick(vocab::RUNTIMES);
            let k8s = runtime != "docker" && runtime != "podman";
            let pod = format!("{word}-{}-{}", rng.hex(10), rng.alnum_lower(5));
            let mut o = Map::new();
            o.insert("id".into(), rng.hex(64).into());
            o.insert(
                "name".into(),
                if k8s {
                    format!("k8s_{word}_{pod}_{ns}_{}_0", rng.uuid())
                } else {
                    format!("{word}-{}", rng.range(1, 9))
                }
                .into(),
            );
            o.insert("image".into(), image.into());
            o.insert(
                "image_digest".into(),
                format!("sha256:{}", rng.hex(64)).into(),
            );
            o.insert("runtime".into(), runtime.into());
            o.insert("privileged".into(), (bad && rng.chance(0.6)).into());
            if bad && rng.chance(0.5) {
                o.insert("cap_add".into(), json!(["SYS_ADMIN", "SYS_PTRACE"]));
                o.insert("pid_mode".into(), "host".into());
                o.insert(
                    "mounts".into(),
                    json!([{"type": "bind", "source": "/", "destination": "/host", "rw": true}]),
                );
            }
            if k8s {
                o.insert("k8s_namespace".into(), ns.into());
                o.insert("k8s_pod".into(), pod.into());
            }
            Container {
                obj: Value::Object(o),
            }
        })
        .collect()
}

pub fn generate(opts: &Opts, out: &mut impl Write, planted: &mut impl Write) -> Result<()> {
    let mut rng = Rng::new(opts.seed ^ 0x006c_696e_7578);
    let containers = container_pool(&mut rng, 600, false);
    let bad_containers = container_pool(&mut rng, 24, true);
    let attacks_at = attack_positions(&mut rng, opts.events, opts.attacks);
    let mut next_attack = attacks_at.iter().peekable();
    let mut clock = Clock::new(86_400_000_000_000 / opts.events.max(1));
    let mut attack_no = 0usize;

    for i in 0..opts.events {
        let ts = clock.tick(&mut rng);
        let is_attack = next_attack.peek().is_some_and(|&&p| p == i);
        let (image, cmd, pimage, pcmd, user, cwd, tags): (
            String,
            String,
            String,
            String,
            String,
            String,
            &[&str],
        );
        if is_attack {
            next_attack.next();
            let at: &Attack = &ATTACKS[attack_no % ATTACKS.len()];
            attack_no += 1;
            image = at.image.to_string();
            cmd = expand(at.cmd, &mut rng);
            pimage = at.parent_image.to_string();
            pcmd = expand(at.parent_cmd, &mut rng);
            user = if at.user.is_empty() {
                (rng.pick(&["root", "root", "www-data", "app", "ubuntu"])).to_string()
            } else {
                at.user.to_string()
            };
            cwd = if at.cwd.is_empty() {
                (rng.pick(&["/tmp", "/", "/root", "/var/www/html", "/dev/shm"])).to_string()
            } else {
                at.cwd.to_string()
            };
            tags = at.tags;
        } else {
            let (img, tpl) = if rng.chance(NOISY_SHARE) {
                rng.pick(NOISY)
            } else {
                rng.pick(BENIGN)
            };
            let (pimg, ptpl) = rng.pick(PARENTS);
            image = img.to_string();
            cmd = expand(tpl, &mut rng);
            pimage = pimg.to_string();
            pcmd = expand(ptpl, &mut rng);
            user = (rng.pick(vocab::USERS)).to_string();
            cwd = expand(rng.pick(CWDS), &mut rng);
            tags = &[];
        }
        let pid = rng.range(300, 4_194_304);
        let ppid = rng.range(1, 4_194_304);
        let logon_id: u64 = if user == "root" {
            0
        } else {
            rng.range(1000, 1100)
        };
        let mut ev = Map::new();
        ev.insert("event_id".into(), i.into());
        ev.insert("UtcTime".into(), Clock::rfc3339_micros(ts).into());
        ev.insert("Computer".into(), (rng.pick(vocab::NODES)).into());
        ev.insert("ProcessId".into(), pid.into());
        ev.insert("Image".into(), image.into());
        ev.insert("CommandLine".into(), cmd.into());
        ev.insert("CurrentDirectory".into(), cwd.into());
        ev.insert("User".into(), user.into());
        ev.insert("LogonId".into(), logon_id.into());
        ev.insert("ParentProcessId".into(), ppid.into());
        ev.insert("ParentImage".into(), pimage.into());
        ev.insert("ParentCommandLine".into(), pcmd.into());
        let in_container = if is_attack {
            rng.chance(0.8)
        } else {
            rng.chance(CONTAINER_SHARE)
        };
        if in_container {
            let c = if is_attack && rng.chance(0.5) {
                rng.pick_ref(&bad_containers)
            } else {
                rng.pick_ref(&containers)
            };
            ev.insert("container".into(), c.obj.clone());
        }
        write_line(out, &Value::Object(ev))?;
        if is_attack {
            write_planted(planted, i + 1, &i.to_string(), tags)?;
        }
    }
    Ok(())
}
