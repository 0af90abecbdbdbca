//! What `trace` and `gradcheck` refuse before any work, as a library caller meets it: a case
//! whose sizes overflow or whose parameters miss a layer's bias, a network too large for trace
//! (refused before its parameters are allocated), and finite differences past gradcheck's bound.

use std::time::{Duration, Instant};

use wgtrain::Error;
use wgtrain::cpu::reference::Net64;
use wgtrain::gradcheck::{MAX_WORK, Options, check_work, gradcheck, work};
use wgtrain::model::{Activation, Loss, Output, Params, Spec};
use wgtrain::trace::{Case, Network, Purpose, Settings, Source, Start, build_case_for, trace};

fn spec(sizes: &[usize]) -> Spec {
    let hidden = vec![Activation::Tanh; sizes.len() - 2];
    Spec::new(sizes.to_vec(), hidden, Output::Linear, Loss::Mse).unwrap()
}

/// A 2-3-1 case on two rows.
fn small_case() -> Case {
    let spec = spec(&[2, 3, 1]);
    let net = Net64::from_params(&Params::init(&spec, 1));
    Case {
        spec,
        net,
        x: vec![0.1, 0.2, 0.3, 0.4],
        y: vec![0.5, 0.6],
        n: 2,
    }
}

#[test]
fn a_row_count_whose_sizes_overflow_is_a_shape_error_not_a_panic() {
    let case = Case {
        n: 1 << 63,
        x: vec![],
        y: vec![],
        ..small_case()
    };
    let e = trace(&case, &Settings::default(), &[]).unwrap_err();
    assert!(matches!(e, Error::Shape(_)), "{e}");
    assert!(e.to_string().contains("overflow"), "{e}");
    let e = gradcheck(&case, &Options::default(), &[]).unwrap_err();
    assert!(e.to_string().contains("overflow"), "{e}");
}

#[test]
fn parameters_with_more_weight_matrices_than_biases_are_refused_not_truncated() {
    let mut case = small_case();
    case.net.w.push(vec![0.5; 3]);
    for e in [
        trace(&case, &Settings::default(), &[]).unwrap_err(),
        gradcheck(&case, &Options::default(), &[]).unwrap_err(),
    ] {
        assert!(matches!(e, Error::Shape(_)), "{e}");
        assert!(
            e.to_string()
                .contains("3 weight matrices and 2 bias vectors"),
            "{e}"
        );
    }
    let mut case = small_case();
    case.net.b.push(vec![0.5]);
    assert!(trace(&case, &Settings::default(), &[]).is_err());
}

#[test]
fn a_network_too_large_for_trace_is_refused_before_it_is_allocated() {
    let source = Source::Data {
        source: "digits".into(),
        targets: None,
        rows: 4,
    };
    let network = Network {
        hidden: Some(vec![20_000, 20_000]),
        ..Network::default()
    };
    let t0 = Instant::now();
    let e = build_case_for(&source, &Start::Seed(0), &network, &[3], Purpose::Trace).unwrap_err();
    assert!(e.to_string().contains("at most 20000"), "{e}");
    // gradcheck has a bound of its own: the pointer to it promises no more.
    assert!(!e.to_string().contains("any size"), "{e}");
    // Allocating and initialising its 400 million parameters takes tens of seconds.
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
}

#[test]
fn gradchecks_work_is_counted_and_bounded_naming_both_figures() {
    // 64-1000-1000-10 on 32 rows, 64 per layer: 128 + 128 + 74 finite differences, each two
    // passes of 32 rows over 1 076 010 parameters.
    let big = spec(&[64, 1000, 1000, 10]);
    let (fds, needed) = work(&big, 32, 64);
    assert_eq!(fds, 330);
    assert_eq!(needed, 330 * 2 * 32 * 1_076_010);
    let e = check_work(&big, 32, &Options::default()).unwrap_err();
    let msg = e.to_string();
    for needle in ["2.27e10", "1e10", "`per_layer`", "fewer rows"] {
        assert!(msg.contains(needle), "{needle} not in {msg}");
    }
    // Fewer values per layer bring it within the bound.
    let fewer = Options {
        per_layer: 8,
        ..Options::default()
    };
    assert!(check_work(&big, 32, &fewer).is_ok());
    assert!(work(&big, 32, 8).1 <= MAX_WORK);
    // gradcheck itself refuses a hand-built case past the bound before any difference.
    let spec = spec(&[64, 1000, 1000, 10]);
    let case = Case {
        net: Net64::from_params(&Params::init(&spec, 0)),
        x: vec![0.0; 32 * 64],
        y: vec![0.0; 32 * 10],
        n: 32,
        spec,
    };
    let t0 = Instant::now();
    assert!(gradcheck(&case, &Options::default(), &[]).is_err());
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
}
