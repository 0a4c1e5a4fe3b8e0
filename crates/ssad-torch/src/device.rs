//! Parsing of device names (`cpu`, `cuda`, `cuda:N`, `auto`).

use tch::{Cuda, Device};

/// Resolves a device name to a libtorch device (see [`tch_device`]).
pub fn parse_device(name: &str) -> anyhow::Result<Device> {
    tch_device(name.parse()?)
}

/// The libtorch device of a typed device: `auto` is the first GPU when CUDA is available,
/// else the CPU. Asking for a GPU that is not there is an error, not a silent fallback to the
/// CPU.
pub fn tch_device(device: ssad_core::Device) -> anyhow::Result<Device> {
    let (index, name) = match device {
        ssad_core::Device::Cpu => return Ok(Device::Cpu),
        ssad_core::Device::Auto => return Ok(Device::cuda_if_available()),
        ssad_core::Device::Cuda(i) => (i, device.to_string()),
    };
    anyhow::ensure!(
        Cuda::is_available(),
        "device '{name}' requested but CUDA is not available to libtorch (no GPU, no driver, or \
         a CPU-only torch); use --device cpu or auto"
    );
    let count = Cuda::device_count() as usize;
    anyhow::ensure!(
        index < count,
        "device '{name}' requested but only {count} CUDA device(s) are visible (cuda:0..cuda:{})",
        count.saturating_sub(1)
    );
    Ok(Device::Cuda(index))
}

/// The name of a device as `parse_device` accepts it (`cpu`, `cuda:0`, ...).
pub fn device_name(device: Device) -> String {
    match device {
        Device::Cpu => "cpu".into(),
        Device::Cuda(i) => format!("cuda:{i}"),
        Device::Mps => "mps".into(),
        Device::Vulkan => "vulkan".into(),
    }
}

/// True when this CPU computes bfloat16 dot products natively (x86-64 `avx512_bf16`, which
/// Intel Sapphire Rapids and AMD Zen 4 have; aarch64 `bf16`). Without them libtorch emulates
/// bf16 and mixed precision is slower than fp32.
pub fn cpu_has_native_bf16() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("bf16")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

/// Checks that `precision` is worth computing in on `device`: bf16 on a CPU without native
/// bfloat16 instructions is refused with the reason (libtorch would emulate it, slower than
/// fp32, and a silent fallback would make the records lie about what ran).
pub fn check_precision(precision: ssad_core::Precision, device: Device) -> anyhow::Result<()> {
    if precision == ssad_core::Precision::Bf16 && device == Device::Cpu {
        anyhow::ensure!(
            cpu_has_native_bf16(),
            "precision bf16 needs a CPU with native bfloat16 instructions (x86-64 avx512_bf16, e.g. Intel Sapphire Rapids or AMD Zen 4; aarch64 bf16); this CPU has none, so libtorch would emulate bf16, slower than fp32: use precision fp32 (the default)"
        );
    }
    Ok(())
}

/// Whether convolution activations are laid out channels-last (NHWC) by default on `device`:
/// oneDNN's CPU convolutions are faster on NHWC, and bf16 ones much faster (measured in
/// docs/results/engine.md); cuDNN's tensor-core kernels also prefer NHWC.
pub fn default_channels_last(_device: Device) -> bool {
    true
}

/// Sets libtorch's CPU thread pool for the whole process; 0 keeps libtorch's default (one
/// thread per core). One thread is often fastest on a shared or busy machine. A count above
/// the machine's logical CPUs is capped at them ([`ssad_core::capped_threads`]), with a
/// warning printed once per process.
pub fn set_cpu_threads(threads: usize) {
    if threads > 0 {
        let (threads, warning) = ssad_core::capped_threads(threads, 1);
        if let Some(w) = warning {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| eprintln!("{w}"));
        }
        tch::set_num_threads(threads as i32);
    }
}

/// The size of libtorch's CPU thread pool in this process.
pub fn cpu_threads() -> usize {
    tch::get_num_threads().max(0) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_and_rejects_unknown_names() {
        assert_eq!(parse_device("cpu").unwrap(), Device::Cpu);
        assert_eq!(parse_device(" CPU ").unwrap(), Device::Cpu);
        for bad in ["tpu", "cuda:x", "cuda:-1", ""] {
            let err = parse_device(bad).unwrap_err().to_string();
            assert!(err.contains("unknown device") && err.contains(bad), "{err}");
        }
    }

    #[test]
    fn cuda_request_matches_availability() {
        let auto = parse_device("auto").unwrap();
        if Cuda::is_available() {
            assert_eq!(auto, Device::Cuda(0));
            assert_eq!(parse_device("cuda").unwrap(), Device::Cuda(0));
            assert!(parse_device("cuda:999")
                .unwrap_err()
                .to_string()
                .contains("cuda:999"));
        } else {
            assert_eq!(auto, Device::Cpu);
            let err = parse_device("cuda:0").unwrap_err().to_string();
            assert!(err.contains("CUDA is not available"), "{err}");
        }
        assert_eq!(device_name(Device::Cuda(1)), "cuda:1");
    }
}
