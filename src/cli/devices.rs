//! `wgtrain devices`: every adapter with the limits that matter for training.

use anyhow::Result;

use wgtrain::gpu::{BackendChoice, context, tuning};

pub fn run(backend: BackendChoice) -> Result<()> {
    let all = context::adapters(backend)?;
    if all.is_empty() {
        return super::write_stdout(&format!(
            "no adapters found; {}\n",
            super::in_flags(&context::no_adapter_hint(backend))
        ));
    }
    // What `--device auto` would take: WGPU_ADAPTER_NAME's adapter, else the best hardware one.
    let named = super::gpu_options(backend)?.adapter;
    let auto = context::pick_named(backend, false, named.as_deref())?.map(|a| a.get_info());
    let mut out = String::new();
    for (i, a) in all.iter().enumerate() {
        let info = a.get_info();
        let l = a.limits();
        let mark = if auto.as_ref() == Some(&info) {
            "  [--device auto]"
        } else if !context::is_hardware(&info) {
            "  [software: --device gpu only]"
        } else {
            ""
        };
        out += &format!("{i}: {}{mark}\n", info.name);
        out += &format!(
            "   backend {:?}, type {:?}, driver {} {}\n",
            info.backend, info.device_type, info.driver, info.driver_info
        );
        out += &format!(
            "   max storage binding {} MiB, max buffer {} MiB, workgroup storage {} KiB\n",
            l.max_storage_buffer_binding_size >> 20,
            l.max_buffer_size >> 20,
            l.max_compute_workgroup_storage_size >> 10
        );
        out += &format!(
            "   invocations per workgroup {}, workgroup size {}x{}x{}, workgroups per dimension {}\n",
            l.max_compute_invocations_per_workgroup,
            l.max_compute_workgroup_size_x,
            l.max_compute_workgroup_size_y,
            l.max_compute_workgroup_size_z,
            l.max_compute_workgroups_per_dimension
        );
        let rule = tuning::rule(&info).describe();
        if context::is_hardware(&info) {
            out += &format!(
                "   matmul: timed per network on first use and cached (WGTRAIN_MATMUL=rule: {rule})\n"
            );
        } else {
            out += &format!("   matmul: {rule} (software adapter)\n");
        }
    }
    super::write_stdout(&out)
}
