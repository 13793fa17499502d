//! Docker Engine events as `docker events --format '{{json .}}'` prints them: container
//! lifecycle, health checks, execs, image and network chatter, with planted pulls of offensive
//! images, builds/loads on hosts, and shells exec'd into running containers.

use std::io::Write;

use anyhow::Result;
use serde_json::{json, Map, Value};

use crate::common::{attack_positions, write_line, write_planted, Clock, Opts};
use crate::rng::Rng;
use crate::vocab;

struct Ctr {
    id: String,
    name: String,
    image: String,
    project: String,
}

fn pool(rng: &mut Rng, n: usize) -> Vec<Ctr> {
    (0..n)
        .map(|_| {
            let project = (rng.pick(vocab::REPOS)).to_string();
            let word = rng.pick(vocab::WORDS);
            Ctr {
                id: rng.hex(64),
                name: format!("{project}-{word}-{}", rng.range(1, 5)),
                image: (rng.pick(vocab::IMAGES)).to_string(),
                project,
            }
        })
        .collect()
}

fn container_event(
    rng: &mut Rng,
    ns: i128,
    c: &Ctr,
    action: &str,
    extra: &[(&str, Value)],
) -> Value {
    let mut attrs = Map::new();
    attrs.insert("com.docker.compose.config-hash".into(), rng.hex(64).into());
    attrs.insert("com.docker.compose.container-number".into(), "1".into());
    attrs.insert(
        "com.docker.compose.project".into(),
        c.project.clone().into(),
    );
    attrs.insert(
        "com.docker.compose.service".into(),
        c.name
            .rsplit_once('-')
            .map(|x| x.0)
            .unwrap_or(&c.name)
            .into(),
    );
    attrs.insert("com.docker.compose.version".into(), "2.29.7".into());
    attrs.insert("image".into(), c.image.clone().into());
    attrs.insert("name".into(), c.name.clone().into());
    for (k, v) in extra {
        attrs.insert((*k).into(), v.clone());
    }
    let status = action.to_string();
    json!({
        "status": status,
        "id": c.id,
        "from": c.image,
        "Type": "container",
        "Action": action,
        "Actor": {"ID": c.id, "Attributes": attrs},
        "scope": "local",
        "time": (ns / 1_000_000_000) as i64,
        "timeNano": ns as i64,
    })
}

fn simple_event(ns: i128, typ: &str, action: &str, id: &str, attrs: Value) -> Value {
    json!({
        "Type": typ,
        "Action": action,
        "Actor": {"ID": id, "Attributes": attrs},
        "scope": "local",
        "time": (ns / 1_000_000_000) as i64,
        "timeNano": ns as i64,
    })
}

fn background(rng: &mut Rng, ns: i128, ctrs: &[Ctr]) -> Value {
    let c = rng.pick_ref(ctrs);
    match rng.below(100) {
        0..=44 => container_event(rng, ns, c, "health_status: healthy", &[]),
        45..=64 => {
            let cmd = rng.pick(&[
                "/usr/local/bin/healthcheck",
                "pg_isready -U postgres",
                "redis-cli ping",
                "curl -fsS http://localhost:8080/healthz",
                "wget -qO- http://127.0.0.1:9090/-/ready",
            ]);
            let act = rng.pick(&["exec_create", "exec_start", "exec_die"]);
            let action = if act == "exec_die" {
                act.to_string()
            } else {
                format!("{act}: {cmd}")
            };
            let mut extra = vec![("execID", json!(rng.hex(64)))];
            if act == "exec_die" {
                extra.push(("exitCode", json!("0")));
            }
            container_event(rng, ns, c, &action, &extra)
        }
        65..=74 => {
            let act = rng.pick(&[
                "create", "start", "die", "stop", "kill", "destroy", "attach", "resize",
            ]);
            let mut extra = Vec::new();
            if act == "die" {
                extra.push((
                    "exitCode",
                    json!(rng.pick(&["0", "0", "137", "1"]).to_string()),
                ));
            }
            if act == "kill" {
                extra.push(("signal", json!("15")));
            }
            container_event(rng, ns, c, act, &extra)
        }
        75..=84 => simple_event(
            ns,
            "network",
            rng.pick(&["connect", "disconnect"]),
            &rng.hex(64),
            json!({"container": c.id, "name": format!("{}_default", c.project), "type": "bridge"}),
        ),
        85..=91 => simple_event(
            ns,
            "volume",
            rng.pick(&["mount", "unmount"]),
            &rng.hex(64),
            json!({"container": c.id, "destination": "/var/lib/data", "driver": "local", "propagation": "", "read/write": "true"}),
        ),
        92..=96 => {
            let img = rng.pick(vocab::IMAGES);
            simple_event(ns, "image", "pull", img, json!({"name": img}))
        }
        _ => {
            let img = rng.pick(vocab::IMAGES);
            simple_event(
                ns,
                "image",
                rng.pick(&["tag", "untag", "delete"]),
                &format!("sha256:{}", rng.hex(64)),
                json!({"name": img}),
            )
        }
    }
}

const ATTACK_TAGS: &[&[&str]] = &[
    &["engine_offensive_tool_image"],
    &["engine_image_from_unapproved_registry"],
    &["engine_image_built_or_loaded_on_host"],
    &["docker-exec-shell"],
    &["docker-exec-escape"],
    &["engine_offensive_tool_image"],
];

fn attack(rng: &mut Rng, ns: i128, ctrs: &[Ctr], k: usize) -> Value {
    match k {
        0 => {
            let img = rng.pick(&[
                "dizcza/docker-hashcat:cuda",
                "kalilinux/kali-rolling:latest",
                "metasploitframework/metasploit-framework:6.4",
            ]);
            simple_event(ns, "image", "pull", img, json!({"name": img}))
        }
        1 => {
            let img = "45.137.21.9:5000/miner/xmrig:6.21";
            simple_event(ns, "image", "pull", img, json!({"name": img}))
        }
        2 => {
            let act = rng.pick(&["load", "import", "build"]);
            simple_event(
                ns,
                "image",
                act,
                &format!("sha256:{}", rng.hex(64)),
                json!({"name": format!("local/{}:latest", rng.alnum_lower(6))}),
            )
        }
        3 => {
            let c = rng.pick_ref(ctrs);
            let cmd = rng.pick(&["sh -c id", "bash -i", "/bin/sh", "sh -c cat /etc/shadow"]);
            let exec_id = rng.hex(64);
            container_event(
                rng,
                ns,
                c,
                &format!("exec_start: {cmd}"),
                &[("execID", json!(exec_id))],
            )
        }
        4 => {
            let c = rng.pick_ref(ctrs);
            let exec_id = rng.hex(64);
            container_event(
                rng,
                ns,
                c,
                "exec_start: nsenter -t 1 -m -u -i -n -p -- bash",
                &[("execID", json!(exec_id))],
            )
        }
        _ => {
            let c = Ctr {
                id: rng.hex(64),
                name: format!("crack-{}", rng.alnum_lower(4)),
                image: "dizcza/docker-hashcat:cuda".into(),
                project: "loot".into(),
            };
            container_event(rng, ns, &c, "create", &[])
        }
    }
}

pub fn generate(opts: &Opts, out: &mut impl Write, planted: &mut impl Write) -> Result<()> {
    let mut rng = Rng::new(opts.seed ^ 0x646f_636b_6572);
    let ctrs = pool(&mut rng, 300);
    let attacks_at = attack_positions(&mut rng, opts.events, opts.attacks);
    let mut next_attack = attacks_at.iter().peekable();
    let mut clock = Clock::new(86_400_000_000_000 / opts.events.max(1));
    let mut k = 0usize;
    for i in 0..opts.events {
        clock.tick(&mut rng);
        let ns = clock.ns;
        let is_attack = next_attack.peek().is_some_and(|&&p| p == i);
        let ev = if is_attack {
            next_attack.next();
            let kind = k % ATTACK_TAGS.len();
            k += 1;
            write_planted(planted, i + 1, &(i + 1).to_string(), ATTACK_TAGS[kind])?;
            attack(&mut rng, ns, &ctrs, kind)
        } else {
            background(&mut rng, ns, &ctrs)
        };
        write_line(out, &ev)?;
    }
    Ok(())
}
