//! The library's run plan as a Rust program uses it: a run from rows in memory and from files,
//! resumed from its checkpoint, and every bad plan a typed error before anything trains or is
//! written.

mod common;

use common::scratch::Scratch;
use wgtrain::data::{Dataset, Targets};
use wgtrain::run::{Data, Outputs, RunPlan, Settings, Start};
use wgtrain::{Checkpoints, Device, Error};

/// `n` rows of two features whose class is the XOR of their signs.
fn xor_rows(name: &str, n: usize, seed: u64) -> Dataset {
    let mut rng = wgtrain::testing::Rng::new(seed);
    let mut x = Vec::with_capacity(2 * n);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let (a, b) = (rng.next_f64() * 2.0 - 1.0, rng.next_f64() * 2.0 - 1.0);
        x.extend([a as f32, b as f32]);
        labels.push(u32::from((a > 0.0) != (b > 0.0)));
    }
    Dataset::new(
        name,
        x,
        n,
        2,
        Targets::Classes {
            labels,
            n_classes: 2,
        },
    )
    .unwrap()
}

fn lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The setting an error blames.
fn blamed(e: &Error) -> Option<&'static str> {
    match e {
        Error::InvalidArgument { arg, .. } => *arg,
        _ => None,
    }
}

#[test]
fn a_run_from_rows_in_memory_saves_writes_metrics_and_resumes() {
    let s = Scratch::new("rows");
    let (save, metrics) = (s.path("xor.safetensors"), s.path("xor.jsonl"));
    let plan = RunPlan {
        data: Some(Data::Rows(xor_rows("xor train", 256, 1))),
        valid: Some(Data::Rows(xor_rows("xor valid", 64, 2))),
        arch: wgtrain::run::Arch {
            hidden: Some(vec![16]),
            ..Default::default()
        },
        settings: Settings {
            epochs: Some(3),
            lr: Some(0.5),
            ..Settings::default()
        },
        device: Device::cpu(),
        outputs: Outputs {
            checkpoint: Some(Checkpoints {
                path: save.clone(),
                every: None,
                keep_best: false,
            }),
            metrics: Some(metrics.clone()),
            ..Outputs::default()
        },
        ..RunPlan::default()
    };
    let mut run = plan.clone().open().unwrap();
    assert_eq!(run.data_name(), "rows in memory");
    assert_eq!(run.trainer().sizes(), Some([256, 64, 0]));
    let end = run.fit(|_| Ok(())).unwrap();
    assert!(end.metrics_error.is_none());
    assert_eq!(end.fit.saved.as_deref(), Some(save.as_path()));
    assert_eq!(lines(&metrics).len(), 3);
    // Resumed: the settings come from the file (lr given equal is accepted), the metrics are
    // appended after the run's three epochs.
    let again = RunPlan {
        start: Start::Resume(save.clone()),
        arch: Default::default(),
        settings: Settings {
            epochs: Some(2),
            ..Settings::default()
        },
        ..plan.clone()
    };
    let mut run = again.open().unwrap();
    assert_eq!(run.last_epoch(), 5);
    run.fit(|_| Ok(())).unwrap();
    let epochs: Vec<u64> = lines(&metrics)
        .iter()
        .map(|l| l["epoch"].as_u64().unwrap())
        .collect();
    assert_eq!(epochs, [1, 2, 3, 4, 5]);
    // A setting that contradicts the file is an error naming it, before anything runs.
    let wrong = RunPlan {
        start: Start::Resume(save.clone()),
        settings: Settings {
            epochs: Some(1),
            lr: Some(0.1),
            ..Settings::default()
        },
        ..plan
    };
    let e = wrong.open().err().unwrap();
    assert_eq!(blamed(&e), Some("lr"), "{e}");
    assert_eq!(lines(&metrics).len(), 5, "a refused run wrote metrics");
}

#[test]
fn a_run_from_files_refuses_an_output_onto_an_input_before_training() {
    let s = Scratch::new("files");
    let csv: String = std::iter::once("a,b,y\n".to_string())
        .chain((0..40).map(|i| format!("{},{},{}\n", i % 7, i % 5, ["x", "z"][i % 2])))
        .collect();
    let train = s.write("train.csv", &csv);
    let valid = s.write("valid.csv", &csv);
    let plan = RunPlan {
        data: Some(Data::Source(train.clone())),
        valid: Some(Data::Source(valid.clone())),
        settings: Settings {
            epochs: Some(2),
            ..Settings::default()
        },
        device: Device::cpu(),
        ..RunPlan::default()
    };
    let onto_valid = RunPlan {
        outputs: Outputs {
            metrics: Some(valid.clone().into()),
            ..Outputs::default()
        },
        ..plan.clone()
    };
    let e = onto_valid.open().err().unwrap();
    let shown = e.show(|n| format!("--{n}"));
    assert!(
        shown.contains("--metrics") && shown.contains("is the same file as --valid"),
        "{shown}"
    );
    assert_eq!(std::fs::read_to_string(&valid).unwrap(), csv);
    // The plan as given trains, its table read from the file, the validation file with it.
    let mut run = plan.clone().open().unwrap();
    assert!(run.table().is_some());
    assert_eq!(run.trainer().sizes(), Some([40, 40, 0]));
    assert_eq!(run.fit(|_| Ok(())).unwrap().fit.reports.len(), 2);
    // Patience needs a validation set: without one, the error names it.
    let no_valid = RunPlan {
        valid: None,
        settings: Settings {
            patience: Some(2),
            ..plan.settings.clone()
        },
        ..plan
    };
    let e = no_valid.open().err().unwrap();
    assert_eq!(blamed(&e), Some("patience"));
    // In the library's words, no command line's placeholders.
    assert!(
        e.to_string().ends_with(
            "give the setting `valid_split` (a fraction of the training rows to hold out) or the setting `valid` (a validation set)"
        ),
        "{e}"
    );
}

#[test]
fn a_run_resumed_from_its_best_epoch_replaces_the_later_epochs_in_its_metrics() {
    let s = Scratch::new("keep_best");
    let (save, metrics) = (s.path("best.safetensors"), s.path("best.jsonl"));
    // A learning rate far too high: the first epoch is the best, the later ones worse.
    let plan = RunPlan {
        data: Some(Data::Rows(xor_rows("xor train", 128, 3))),
        valid: Some(Data::Rows(xor_rows("xor valid", 64, 4))),
        settings: Settings {
            epochs: Some(6),
            lr: Some(40.0),
            ..Settings::default()
        },
        device: Device::cpu(),
        outputs: Outputs {
            checkpoint: Some(Checkpoints {
                path: save.clone(),
                every: None,
                keep_best: true,
            }),
            metrics: Some(metrics.clone()),
            ..Outputs::default()
        },
        ..RunPlan::default()
    };
    let mut run = plan.clone().open().unwrap();
    let kept = run.fit(|_| Ok(())).unwrap().fit.kept.unwrap();
    assert!(
        kept < 6,
        "the test needs a best epoch before the last: {kept}"
    );
    let again = RunPlan {
        start: Start::Resume(save),
        settings: Settings {
            epochs: Some(2),
            ..Settings::default()
        },
        ..plan
    };
    let mut run = again.open().unwrap();
    assert!(
        run.notes().iter().any(|n| n.contains(&format!(
            "holds epochs {}-6, trained after the epoch {kept}",
            kept + 1
        ))),
        "{:?}",
        run.notes()
    );
    run.fit(|_| Ok(())).unwrap();
    let epochs: Vec<usize> = lines(&metrics)
        .iter()
        .map(|l| l["epoch"].as_u64().unwrap() as usize)
        .collect();
    let want: Vec<usize> = (1..=kept + 2).collect();
    assert_eq!(epochs, want, "each epoch once, in order");
}

#[test]
fn a_csv_table_trains_table_epochs_unless_given_and_other_data_twenty() {
    let s = Scratch::new("table-epochs");
    let csv = s.path("t.csv");
    let mut text = String::from("a,b,y\n");
    for i in 0..40 {
        text += &format!(
            "{},{},{}\n",
            i % 7,
            i % 5,
            if i % 3 == 0 { "yes" } else { "no" }
        );
    }
    std::fs::write(&csv, text).unwrap();
    let on_table = |epochs: Option<usize>| RunPlan {
        data: Some(Data::Source(csv.display().to_string())),
        csv: wgtrain::data::CsvOptions {
            label: Some(wgtrain::data::Column::Name("y".into())),
            ..Default::default()
        },
        settings: Settings {
            epochs,
            ..Default::default()
        },
        device: Device::cpu(),
        ..Default::default()
    };
    let last = |plan: RunPlan| plan.open().unwrap().last_epoch();
    assert_eq!(wgtrain::run::TABLE_EPOCHS, 40);
    assert_eq!(last(on_table(None)), wgtrain::run::TABLE_EPOCHS);
    assert_eq!(last(on_table(Some(3))), 3);
    let default_epochs = wgtrain::Config::default().epochs;
    assert_eq!(default_epochs, 20);
    let builtin = RunPlan {
        device: Device::cpu(),
        ..Default::default()
    };
    assert_eq!(last(builtin), default_epochs);
    let rows = RunPlan {
        data: Some(Data::Rows(xor_rows("xor", 64, 3))),
        device: Device::cpu(),
        ..Default::default()
    };
    assert_eq!(last(rows), default_epochs);
}
