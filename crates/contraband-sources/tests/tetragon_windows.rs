//! Tetragon JSON export and Windows-events-as-JSON against the real corpora.

mod common;

use std::collections::BTreeMap;

use common::*;
use contraband_sources::Format;

#[test]
fn tetragon_nsenter_from_privileged_pod() {
    let path = corpora().join(
        "tetragon/docs/security-observability-with-ebpf/03_chapter/03_security_observability_events/01_reaching_the_host_namespace/privileged-pod-nsenter.json",
    );
    let (evs, errs) = decode(&path, None);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(evs.len(), 1);
    let ev = &evs[0];
    assert_eq!(
        ls(ev),
        (Some("linux"), Some("process_creation"), Some("tetragon"))
    );
    assert_eq!(s(ev, "Image"), "/usr/bin/nsenter");
    assert_eq!(
        s(ev, "CommandLine"),
        "/usr/bin/nsenter -t 1 -m -u -n -i -p bash"
    );
    assert_eq!(s(ev, "CurrentDirectory"), "/");
    assert_eq!(s(ev, "ProcessId"), "19009");
    assert_eq!(s(ev, "User"), "0");
    assert_eq!(s(ev, "ParentImage"), "/bin/bash");
    assert_eq!(s(ev, "event_type"), "process_exec");
    assert_eq!(s(ev, "process.flags"), "execve rootcwd clone");
    assert_eq!(
        s(ev, "container.id"),
        "85f791fd8dfa740a3b1c177e8f68e8fdb4803a7c8fa0e957a5ec38460ce047ef"
    );
    assert_eq!(s(ev, "container.runtime"), "docker");
    assert_eq!(s(ev, "container.name"), "privileged-pod");
    assert_eq!(s(ev, "container.image"), "nginx:latest");
    assert_eq!(
        s(ev, "container.image_digest"),
        "sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31"
    );
    assert_eq!(s(ev, "container.k8s_namespace"), "default");
    assert_eq!(s(ev, "container.k8s_pod"), "privileged-pod");
    assert_eq!(ev.host.as_deref(), Some("minikube"));
    assert_eq!(ev.time.to_rfc3339(), "2022-01-19T11:16:29.378Z");
    // pretty-printed: the raw text is the whole multi-line document
    assert!(ev.raw.as_deref().unwrap().lines().count() > 20);
}

#[test]
fn every_tetragon_file_decodes() {
    let paths = files(&corpora().join("tetragon"), "json");
    let mut per_type: BTreeMap<String, usize> = BTreeMap::new();
    let mut total = 0;
    for p in &paths {
        let (evs, errs) = decode(p, None);
        assert!(errs.is_empty(), "{}: {errs:?}", p.display());
        for ev in &evs {
            assert_eq!(ev.logsource.service.as_deref(), Some("tetragon"));
            assert!(ev.time.0 > 0);
            *per_type.entry(s(ev, "event_type")).or_default() += 1;
        }
        total += evs.len();
    }
    assert_eq!(paths.len(), 41);
    assert_eq!(total, 43);
    assert_eq!(per_type["process_exec"], 21);
    assert_eq!(per_type["process_exit"], 9);
    assert_eq!(per_type["process_kprobe"], 2);
}

#[test]
fn tetragon_json_lines_with_containerd_ids() {
    let (evs, errs) = decode(
        &corpora().join("tetragon/testdata/events.json"),
        Some(Format::Tetragon),
    );
    assert!(errs.is_empty());
    assert_eq!(evs.len(), 3);
    assert_eq!(evs[0].origin.line, Some(1));
    assert_eq!(evs[2].origin.line, Some(3));
    assert_eq!(s(&evs[0], "Image"), "/usr/bin/netserver");
    assert_eq!(s(&evs[0], "CommandLine"), "/usr/bin/netserver -D");
    assert_eq!(s(&evs[0], "container.runtime"), "containerd");
    assert_eq!(s(&evs[0], "container.k8s_pod"), "tiefighter");
}

#[test]
fn windows_regression_data_logsources() {
    let paths = files(&corpora().join("sigma/regression_data"), "json");
    assert_eq!(paths.len(), 202);
    let mut cats: BTreeMap<String, usize> = BTreeMap::new();
    let mut total = 0;
    for p in &paths {
        let (evs, errs) = decode(p, None);
        assert!(errs.is_empty(), "{}: {errs:?}", p.display());
        assert!(!evs.is_empty());
        for ev in &evs {
            assert_eq!(ev.logsource.product.as_deref(), Some("windows"));
            assert!(ev.time.0 > 0);
            assert!(ev.host.is_some());
            let key = format!(
                "{}/{}",
                ev.logsource.service.as_deref().unwrap_or("-"),
                ev.logsource.category.as_deref().unwrap_or("-")
            );
            *cats.entry(key).or_default() += 1;
        }
        total += evs.len();
    }
    assert_eq!(total, 238);
    let want: BTreeMap<String, usize> = [
        ("sysmon/process_creation", 151),
        ("sysmon/file_event", 35),
        ("sysmon/registry_set", 33),
        ("sysmon/image_load", 5),
        ("sysmon/registry_delete", 5),
        ("sysmon/process_access", 2),
        ("sysmon/pipe_created", 1),
        ("sysmon/-", 1),
        ("security/-", 2),
        ("taskscheduler/-", 1),
        ("windefend/-", 1),
        ("wmi/-", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(cats, want);
}

#[test]
fn windows_fields_by_bare_name_and_by_path() {
    let path = corpora().join(
        "sigma/regression_data/rules-threat-hunting/windows/image_load/image_load_win_werfaultsecure_dbgcore_dbghelp_load/8a2f4b1c-3d5e-4f7a-9b2c-1e4f6d8a9c2b.json",
    );
    let (evs, _) = decode(&path, None);
    let ev = &evs[0];
    assert_eq!(s(ev, "Image"), "C:\\Windows\\System32\\WerFaultSecure.exe");
    assert_eq!(
        s(ev, "Event.EventData.ImageLoaded"),
        "C:\\Windows\\System32\\dbgcore.dll"
    );
    assert_eq!(s(ev, "EventID"), "7");
    assert_eq!(s(ev, "Channel"), "Microsoft-Windows-Sysmon/Operational");
    assert_eq!(s(ev, "Provider_Name"), "Microsoft-Windows-Sysmon");
    assert_eq!(s(ev, "Computer"), "swachchhanda");
    assert_eq!(
        ls(ev),
        (Some("windows"), Some("image_load"), Some("sysmon"))
    );
    assert_eq!(ev.time.to_rfc3339(), "2025-11-27T07:40:10.165324Z");
}

#[test]
fn windows_concatenated_documents_get_positions() {
    let path = corpora().join(
        "sigma/regression_data/rules/windows/file/file_event/file_event_win_hktl_netexec_file_indicators/efc21479-9e83-41da-8cf1-122e06ba8db3.json",
    );
    let (evs, errs) = decode(&path, None);
    assert!(errs.is_empty());
    assert_eq!(evs.len(), 7);
    assert_eq!(evs[0].origin.line, Some(1));
    let lines: Vec<u64> = evs.iter().map(|e| e.origin.line.unwrap()).collect();
    assert!(lines.windows(2).all(|w| w[0] < w[1]), "{lines:?}");
    for ev in &evs {
        assert!(ev.raw.as_deref().unwrap().starts_with('{'));
        assert!(ev.raw.as_deref().unwrap().ends_with('}'));
    }
}

#[test]
fn windows_security_4688_data_list_and_powershell() {
    let opts = contraband_sources::Options::default();
    let mut d = contraband_sources::Decoder::new(Format::WindowsJson, "live", &opts);
    let sec = r##"{"Event":{"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Security-Auditing"}},"EventID":{"#text":"4688","#attributes":{"Qualifiers":""}},"Channel":"Security","Computer":"dc1","TimeCreated":{"#attributes":{"SystemTime":"2024-02-03T04:05:06.789Z"}}},"EventData":{"Data":[{"#attributes":{"Name":"NewProcessName"},"#text":"C:\\Windows\\System32\\cmd.exe"},{"#attributes":{"Name":"CommandLine"},"#text":"cmd /c whoami"}]}}}"##;
    let ev = d.feed(sec, Some(1), Some(0)).remove(0).unwrap();
    assert_eq!(
        ls(&ev),
        (Some("windows"), Some("process_creation"), Some("security"))
    );
    assert_eq!(s(&ev, "NewProcessName"), "C:\\Windows\\System32\\cmd.exe");
    assert_eq!(s(&ev, "CommandLine"), "cmd /c whoami");
    assert_eq!(ev.get("EventID"), Some(&serde_json::json!(4688)));
    assert_eq!(ev.host.as_deref(), Some("dc1"));

    let ps = r##"{"Event":{"System":{"EventID":4104,"Channel":"Microsoft-Windows-PowerShell/Operational","Computer":"w1"},"EventData":{"ScriptBlockText":"IEX (New-Object Net.WebClient)"}}}"##;
    let ev = d.feed(ps, Some(2), None).remove(0).unwrap();
    assert_eq!(
        ls(&ev),
        (Some("windows"), Some("ps_script"), Some("powershell"))
    );
    let sys = r##"{"Event":{"System":{"EventID":7045,"Channel":"System","Computer":"w1"},"EventData":{"ServiceName":"x"}}}"##;
    let ev = d.feed(sys, Some(3), None).remove(0).unwrap();
    assert_eq!(ls(&ev), (Some("windows"), None, Some("system")));
    let bad = d.feed(r##"{"NotAnEvent":1}"##, Some(4), None);
    let err = bad[0].as_ref().unwrap_err();
    assert_eq!(
        err.to_string(),
        "live:4: not a Windows event: no Event object"
    );
}

#[test]
fn windows_data_names_with_spaces_also_get_the_spaceless_sigma_name() {
    let doc = r##"{"Event":{"System":{"EventID":1116,"Channel":"Microsoft-Windows-Windows Defender/Operational","Provider":{"#attributes":{"Name":"Microsoft-Windows-Windows Defender"}}},"EventData":{"Threat Name":"Virus:DOS/EICAR_Test_File"}}}"##;
    let opts = contraband_sources::Options {
        format: Some(contraband_sources::Format::WindowsJson),
        ..Default::default()
    };
    let events: Vec<_> = contraband_sources::read("defender.json", Box::new(doc.as_bytes()), &opts)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        events[0].get_str("ThreatName").as_deref(),
        Some("Virus:DOS/EICAR_Test_File")
    );
    assert_eq!(
        events[0].get_str("Threat Name").as_deref(),
        Some("Virus:DOS/EICAR_Test_File")
    );
}
