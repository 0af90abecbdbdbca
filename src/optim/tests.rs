//! The optimisers' updates, their metadata round trips, and the schedules' rates.
use super::*;

/// The schedules' values are f64 formulas rounded once to f32: compare with f32 equality
/// against the same formula written out, or with the exact value where it is representable.
fn lrs(s: &Schedule, base: f32, epochs: usize, per_epoch: usize) -> Vec<f32> {
    let total = epochs * per_epoch;
    (0..total)
        .map(|step| s.lr(base, step, step / per_epoch, total))
        .collect()
}

#[test]
fn constant_schedule_is_the_base_rate_at_every_step() {
    let s = Schedule::default();
    assert!(lrs(&s, 0.1, 3, 7).iter().all(|&lr| lr == 0.1));
}

#[test]
fn step_schedule_multiplies_by_gamma_every_n_epochs() {
    let s = Schedule {
        decay: Decay::Step {
            every: 2,
            gamma: 0.5,
        },
        warmup: 0,
    };
    let got = lrs(&s, 0.8, 5, 3);
    let want: Vec<f32> = [0.8, 0.8, 0.4, 0.4, 0.2]
        .iter()
        .flat_map(|&v| [v; 3])
        .collect();
    assert_eq!(got, want);
    // Epoch 7 of every 3 with gamma 0.1: gamma², gamma being the f32 nearest 0.1.
    let s = Schedule {
        decay: Decay::Step {
            every: 3,
            gamma: 0.1,
        },
        warmup: 0,
    };
    assert_eq!(s.lr(1.0, 0, 7, 100), (0.1f32 as f64).powi(2) as f32);
}

#[test]
fn cosine_schedule_starts_at_the_base_rate_halves_midway_and_ends_near_zero() {
    let s = Schedule {
        decay: Decay::Cosine,
        warmup: 0,
    };
    let total = 100;
    assert_eq!(s.lr(0.1, 0, 0, total), 0.1);
    assert_eq!(s.lr(0.1, 50, 0, total), 0.05);
    let last = s.lr(0.1, 99, 0, total);
    let want = (0.1f32 as f64 * 0.5 * (1.0 + (std::f64::consts::PI * 0.99).cos())) as f32;
    assert_eq!(last, want);
    assert!(last > 0.0 && last < 1e-4, "last step lr {last}");
    let all = lrs(&s, 0.1, 4, 25);
    assert!(
        all.windows(2).all(|w| w[1] < w[0]),
        "cosine must decrease: {all:?}"
    );
}

#[test]
fn warmup_rises_linearly_then_hands_over_to_the_decay() {
    let s = Schedule {
        decay: Decay::Constant,
        warmup: 4,
    };
    let got: Vec<f32> = (0..6).map(|t| s.lr(1.0, t, 0, 10)).collect();
    assert_eq!(got, [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]);
    // With cosine the decay starts after the warm-up: step 4 is p = 0, step 7 p = 1/2.
    let s = Schedule {
        decay: Decay::Cosine,
        warmup: 4,
    };
    assert_eq!(s.lr(1.0, 3, 0, 10), 1.0);
    assert_eq!(s.lr(1.0, 4, 0, 10), 1.0);
    assert_eq!(s.lr(1.0, 7, 0, 10), 0.5);
    // With a step decay both factors multiply.
    let s = Schedule {
        decay: Decay::Step {
            every: 1,
            gamma: 0.5,
        },
        warmup: 4,
    };
    assert_eq!(s.lr(1.0, 1, 1, 10), 0.25);
}

#[test]
fn warmup_longer_than_the_run_never_divides_by_zero() {
    let s = Schedule {
        decay: Decay::Cosine,
        warmup: 50,
    };
    let got = lrs(&s, 1.0, 1, 10);
    assert_eq!(got[0], 0.02);
    assert_eq!(got[9], 0.2);
}

#[test]
fn bad_schedules_and_optimizers_are_rejected_naming_the_setting() {
    let names = |e: &Error, want: &str| matches!(e, Error::InvalidArgument { arg: Some(a), .. } if *a == want);
    let step = |every, gamma| Schedule {
        decay: Decay::Step { every, gamma },
        warmup: 0,
    };
    for (s, flag) in [
        (step(0, 0.5), "lr_step"),
        (step(1, 0.0), "lr_gamma"),
        (step(1, 1.5), "lr_gamma"),
        (step(1, f32::NAN), "lr_gamma"),
    ] {
        let e = s.validate().unwrap_err();
        assert!(names(&e, flag), "{s:?}: {e}");
    }
    let with = |method, f: fn(&mut Optimizer)| {
        let mut o = Optimizer::new(method);
        f(&mut o);
        o
    };
    for (o, flag) in [
        (with(Method::Momentum, |o| o.momentum = -0.1), "momentum"),
        (with(Method::Momentum, |o| o.momentum = 1.0), "momentum"),
        (with(Method::Nesterov, |o| o.momentum = 0.0), "momentum"),
        (with(Method::Adam, |o| o.beta1 = 1.0), "beta1"),
        (with(Method::Adam, |o| o.beta2 = f32::INFINITY), "beta2"),
        (with(Method::Adam, |o| o.eps = 0.0), "eps"),
        (
            with(Method::AdamW, |o| o.weight_decay = -1.0),
            "weight_decay",
        ),
        (with(Method::Sgd, |o| o.weight_decay = 0.1), "weight_decay"),
    ] {
        let e = o.validate().unwrap_err();
        assert!(names(&e, flag), "{o:?}: {e}");
    }
    for m in Method::ALL {
        Optimizer::new(m).validate().unwrap();
    }
}

#[test]
fn metadata_round_trips_bit_for_bit() {
    let o = Optimizer {
        method: Method::AdamW,
        momentum: 0.9,
        beta1: 0.85,
        beta2: 0.9993,
        eps: 3e-7,
        weight_decay: 0.0123,
    };
    let s = Schedule {
        decay: Decay::Step {
            every: 3,
            gamma: 0.7,
        },
        warmup: 17,
    };
    let mut meta = HashMap::new();
    o.to_metadata(&mut meta);
    s.to_metadata(&mut meta);
    assert_eq!(Optimizer::from_metadata(&meta).unwrap(), Some(o));
    assert_eq!(Schedule::from_metadata(&meta).unwrap(), s);
    assert_eq!(Optimizer::from_metadata(&HashMap::new()).unwrap(), None);
}

#[test]
fn bias_corrections_match_the_closed_form() {
    let o = Optimizer::new(Method::Adam);
    // 1 - β is exact in f32 for β in [0.5, 1).
    assert_eq!(o.bias_corrections(1), (1.0 - 0.9f32, 1.0 - 0.999f32));
    let (b1, b2) = o.bias_corrections(10);
    assert_eq!(b1, (1.0 - (0.9f32 as f64).powi(10)) as f32);
    assert_eq!(b2, (1.0 - (0.999f32 as f64).powi(10)) as f32);
}

#[test]
fn a_negative_second_moment_is_named_with_its_tensor_not_as_a_shape_mismatch() {
    let spec = crate::model::Spec::classifier(3, &[4], 2).unwrap();
    let mut state = OptimState::new(Optimizer::new(Method::Adam), &spec);
    state.slots[1].layers[1].w[5] = -0.25;
    let e = state.check(&spec).unwrap_err().to_string();
    assert!(
        e.contains("a negative second moment: optim.layers.1.weight.v[5] is -0.25"),
        "{e}"
    );
    assert!(!e.contains("shape mismatch"), "{e}");
    state.slots[1].layers[1].w[5] = 0.0;
    state.slots[0].layers[0].b[2] = f32::NAN;
    let e = state.check(&spec).unwrap_err().to_string();
    assert!(
        e.contains("a non-finite value: optim.layers.0.bias.m[2] is NaN"),
        "{e}"
    );
    assert!(!e.contains("shape mismatch"), "{e}");
}
