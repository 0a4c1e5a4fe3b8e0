//! The layers shared by the autoencoders (`model.rs`) and the GEOM classifiers
//! (`geom/net.rs`), over plain libtorch tensors, and the loading of PyTorch `state_dict`s.
//!
//! Layers are written out here (a few lines each over `Tensor::conv2d` & co.) rather than taken
//! from `tch::nn`, so that parameter names, PyTorch's default initialisation and the BatchNorm
//! bookkeeping (`num_batches_tracked`) match a PyTorch `state_dict()` exactly, and so that the
//! initial weights are drawn from a seeded ChaCha stream instead of libtorch's global
//! generator (models built concurrently in one process stay reproducible).

use rand::Rng;
use rand::SeedableRng;
use std::collections::{BTreeMap, HashMap};
use tch::nn::Path;
use tch::{Device, Kind, Tensor};

/// How a network computes: the number format of its convolutions and linear layers, and the
/// memory layout of its convolutions' activations. Both change only float rounding, never the
/// math: the weights stay fp32 and NCHW-shaped whatever is chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Compute {
    /// Mixed precision: convolutions and linear layers take bfloat16 copies of their input and
    /// of the fp32 weights (casts inside the autograd graph, so gradients reach the fp32
    /// weights); batch norm keeps fp32 statistics, and the network's output is cast back to fp32
    /// for the loss and the scores.
    pub bf16: bool,
    /// Channels-last (NHWC) activations: oneDNN's convolution kernels run faster on them than
    /// on NCHW, on CPU (measured in `ssad bench train`, see docs/results/engine.md).
    pub channels_last: bool,
}

impl Compute {
    /// `precision` with the given activation layout.
    pub fn new(precision: ssad_core::Precision, channels_last: bool) -> Self {
        let mut c = Self {
            bf16: false,
            channels_last,
        };
        c.set_precision(precision);
        c
    }

    /// Computes in `precision` from now on (the layout stays).
    pub fn set_precision(&mut self, precision: ssad_core::Precision) {
        self.bf16 = precision == ssad_core::Precision::Bf16;
    }

    /// The precision this computes in.
    pub fn precision(&self) -> ssad_core::Precision {
        if self.bf16 {
            ssad_core::Precision::Bf16
        } else {
            ssad_core::Precision::Fp32
        }
    }

    /// `t` in the number format the layers compute in (bfloat16 under mixed precision; a cast
    /// is a no-op when `t` already has that kind).
    fn operand(&self, t: &Tensor) -> Tensor {
        if self.bf16 {
            t.to_kind(Kind::BFloat16)
        } else {
            t.shallow_clone()
        }
    }

    /// A network output in fp32 (the loss, scores and embeddings are always fp32).
    pub(crate) fn output(&self, t: Tensor) -> Tensor {
        if self.bf16 {
            t.to_kind(Kind::Float)
        } else {
            t
        }
    }

    /// The input of a convolution in this compute's layout.
    fn conv_input(&self, x: &Tensor) -> Tensor {
        let x = self.operand(x);
        if self.channels_last && !is_channels_last(&x) {
            to_channels_last(&x)
        } else {
            x
        }
    }
}

/// The same 4-D tensor with channels-last (NHWC) strides, as PyTorch's
/// `x.contiguous(memory_format=torch.channels_last)` gives: tch has no memory-format argument,
/// and permute -> contiguous -> permute back yields exactly those strides, which libtorch's
/// kernels recognise.
pub(crate) fn to_channels_last(x: &Tensor) -> Tensor {
    x.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])
}

/// True when a 4-D tensor is stored channels-last (NHWC strides).
pub(crate) fn is_channels_last(x: &Tensor) -> bool {
    let (size, stride) = (x.size(), x.stride());
    if size.len() != 4 {
        return false;
    }
    let (c, h, w) = (size[1], size[2], size[3]);
    stride[1] == 1 && stride[3] == c && stride[2] == c * w && stride[0] == c * h * w
}

/// BatchNorm momentum (PyTorch's default).
const BN_MOMENTUM: f64 = 0.1;
/// BatchNorm epsilon (PyTorch's default).
const BN_EPS: f64 = 1e-5;

/// How a parameter or buffer is (re)initialised.
#[derive(Clone, Copy, Debug)]
enum Init {
    /// Uniform in `[-bound, bound)` (PyTorch's default for conv and linear layers).
    Uniform(f64),
    /// Every value equal to this constant.
    Const(f64),
}

/// Every tensor of a network with its init rule, in creation order, and its BatchNorm
/// batch counters.
#[derive(Default)]
pub(crate) struct Registry {
    inits: Vec<(Tensor, Init)>,
    batch_counters: Vec<Tensor>,
}

impl Registry {
    fn var(&mut self, p: &Path, name: &str, dims: &[i64], init: Init) -> Tensor {
        let t = p.zeros(name, dims);
        self.inits.push((t.shallow_clone(), init));
        t
    }

    fn buffer(&mut self, p: &Path, name: &str, dims: &[i64], value: f64) -> Tensor {
        let t = p.zeros_no_train(name, dims);
        self.inits.push((t.shallow_clone(), Init::Const(value)));
        t
    }

    /// (Re)initialises every tensor as PyTorch's defaults do (uniform in +-1/sqrt(fan_in);
    /// BatchNorm scale 1, shift 0, running mean 0, variance 1, counter 0), drawing the uniform
    /// values in creation order from a ChaCha8 stream seeded with `stream_seed`.
    pub(crate) fn reset(&self, stream_seed: u64) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(stream_seed);
        let _guard = tch::no_grad_guard();
        for (t, rule) in &self.inits {
            let mut t = t.shallow_clone();
            match *rule {
                Init::Const(v) => {
                    let _ = t.fill_(v);
                }
                Init::Uniform(bound) => {
                    let bound = bound as f32;
                    let values: Vec<f32> = (0..t.numel())
                        .map(|_| rng.random_range(-bound..bound))
                        .collect();
                    let src = Tensor::from_slice(&values).view(t.size().as_slice());
                    t.copy_(&src.to_device(t.device()));
                }
            }
        }
    }

    /// Stores every 4-D weight (the convolutions') channels-last when `channels_last`, else
    /// contiguous, as PyTorch's `model.to(memory_format=torch.channels_last)` does: oneDNN
    /// then reads the weights without a reorder per call (the 256x256 MVTec layout trained
    /// 18% slower than PyTorch's channels-last step with NCHW weights). Values are unchanged;
    /// in-place updates (Adam) keep the strides; saving writes contiguous copies.
    pub(crate) fn set_conv_weight_layout(&self, channels_last: bool) {
        let _guard = tch::no_grad_guard();
        for (t, _) in &self.inits {
            if t.dim() != 4 || is_channels_last(t) == channels_last {
                continue;
            }
            let mut t = t.shallow_clone();
            let data = if channels_last {
                to_channels_last(&t)
            } else {
                t.contiguous()
            };
            t.set_data(&data);
        }
    }

    /// Adds one to every BatchNorm's `num_batches_tracked` (after a training forward pass).
    pub(crate) fn count_batch(&self) {
        let _guard = tch::no_grad_guard();
        for c in &self.batch_counters {
            let _ = c.shallow_clone().g_add_scalar_(1);
        }
    }
}

/// Kernel size, stride and padding of a square convolution.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConvGeometry {
    /// Kernel side.
    pub kernel: i64,
    /// Stride.
    pub stride: i64,
    /// Zero padding on each side.
    pub padding: i64,
}

/// The autoencoders' convolution: kernel 3, stride 2, padding 1.
pub(crate) const HALVING: ConvGeometry = ConvGeometry {
    kernel: 3,
    stride: 2,
    padding: 1,
};

/// The geometry of one ConvAE layout (kernel 3 stride 2, or the MVTec layout's kernel 5
/// stride 4).
pub(crate) fn layout_geometry(layout: ssad_core::model::ConvLayout) -> ConvGeometry {
    ConvGeometry {
        kernel: layout.kernel() as i64,
        stride: layout.stride() as i64,
        padding: layout.padding() as i64,
    }
}

/// A 2-D convolution (PyTorch `Conv2d`), or the transposed one of the autoencoders' decoder
/// (`ConvTranspose2d` with output padding `stride - 1`, which multiplies the side by the
/// stride), with PyTorch's default initialisation.
pub(crate) struct Conv {
    weight: Tensor,
    bias: Option<Tensor>,
    geometry: ConvGeometry,
    transposed: bool,
}

impl Conv {
    /// A `Conv2d(cin, cout)` with `geometry`, with or without bias.
    pub(crate) fn new(
        reg: &mut Registry,
        p: &Path,
        (cin, cout): (i64, i64),
        geometry: ConvGeometry,
        bias: bool,
    ) -> Self {
        let k = geometry.kernel;
        Self::build(
            reg,
            p,
            [cout, cin, k, k],
            cin * k * k,
            bias,
            geometry,
            false,
        )
    }

    /// A `ConvTranspose2d(cin, cout, k, stride, padding, output_padding = stride - 1)` with
    /// bias: multiplies the height and width by the stride.
    pub(crate) fn transposed(
        reg: &mut Registry,
        p: &Path,
        (cin, cout): (i64, i64),
        geometry: ConvGeometry,
    ) -> Self {
        // PyTorch computes fan_in from weight.size(1), which is `out` for ConvTranspose2d
        // (weight layout in x out x k x k).
        let k = geometry.kernel;
        Self::build(
            reg,
            p,
            [cin, cout, k, k],
            cout * k * k,
            true,
            geometry,
            true,
        )
    }

    fn build(
        reg: &mut Registry,
        p: &Path,
        dims: [i64; 4],
        fan_in: i64,
        bias: bool,
        geometry: ConvGeometry,
        transposed: bool,
    ) -> Self {
        // kaiming_uniform(a = sqrt 5) gives the bound 1 / sqrt(fan_in), as for the bias.
        let bound = 1.0 / (fan_in as f64).sqrt();
        let weight = reg.var(p, "weight", &dims, Init::Uniform(bound));
        let out_channels = if transposed { dims[1] } else { dims[0] };
        let bias = bias.then(|| reg.var(p, "bias", &[out_channels], Init::Uniform(bound)));
        Self {
            weight,
            bias,
            geometry,
            transposed,
        }
    }

    pub(crate) fn forward(&self, x: &Tensor, c: Compute) -> Tensor {
        let bias = self.bias.as_ref().map(|b| c.operand(b));
        convolve(
            &c.conv_input(x),
            &c.operand(&self.weight),
            bias.as_ref(),
            self.geometry,
            self.transposed,
        )
    }
}

/// `x` convolved with `weight` (transposed: the decoder's `ConvTranspose2d` with output
/// padding `stride - 1`), the one call of [`Conv`] and [`PreparedConv`].
fn convolve(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    geometry: ConvGeometry,
    transposed: bool,
) -> Tensor {
    let ConvGeometry {
        stride, padding, ..
    } = geometry;
    if transposed {
        x.conv_transpose2d(
            weight,
            bias,
            [stride, stride],
            [padding, padding],
            [stride - 1, stride - 1],
            1,
            [1, 1],
        )
    } else {
        x.conv2d(
            weight,
            bias,
            [stride, stride],
            [padding, padding],
            [1, 1],
            1,
        )
    }
}

impl Conv {
    /// This convolution prepared for inference, followed by `norm` in evaluation mode when
    /// given (the BatchNorm folded into its weights and bias: exact up to float rounding), with
    /// the weights cast to `c`'s number format and laid out in its layout once, instead of at
    /// every forward pass.
    pub(crate) fn prepare(&self, norm: Option<&BatchNorm>, c: Compute) -> PreparedConv {
        // The output channels are dim 0 of a Conv2d weight, dim 1 of a ConvTranspose2d's.
        let out_dim = usize::from(self.transposed);
        let (w, b) = fold(&self.weight, self.bias.as_ref(), norm, out_dim);
        let w = c.operand(&w.to_kind(Kind::Float).contiguous());
        PreparedConv {
            weight: if c.channels_last {
                to_channels_last(&w)
            } else {
                w
            },
            bias: c.operand(&b.to_kind(Kind::Float)),
            geometry: self.geometry,
            transposed: self.transposed,
        }
    }
}

/// A convolution with a BatchNorm folded in, its weights ready for one compute ([`Conv::prepare`]).
pub(crate) struct PreparedConv {
    weight: Tensor,
    bias: Tensor,
    geometry: ConvGeometry,
    transposed: bool,
}

impl PreparedConv {
    /// The convolution of `x` (what `Conv::forward` then `BatchNorm::forward(.., false)` give,
    /// up to float rounding).
    pub(crate) fn forward(&self, x: &Tensor, c: Compute) -> Tensor {
        convolve(
            &c.conv_input(x),
            &self.weight,
            Some(&self.bias),
            self.geometry,
            self.transposed,
        )
    }
}

/// `weight` scaled and `bias` (zeros when absent) mapped by `norm`'s evaluation-mode affine
/// map along the output dimension `out_dim`, in f64 so that the folded fp32 values are the
/// correctly rounded products: per output channel `s = gamma / sqrt(running_var + eps)`,
/// `W' = W s`, `b' = (b - running_mean) s + beta`. Without `norm`: the weights in f64.
fn fold(
    weight: &Tensor,
    bias: Option<&Tensor>,
    norm: Option<&BatchNorm>,
    out_dim: usize,
) -> (Tensor, Tensor) {
    let f64_of = |t: &Tensor| t.detach().to_kind(Kind::Double);
    let w = f64_of(weight);
    let out = w.size()[out_dim];
    let b = bias
        .map(f64_of)
        .unwrap_or_else(|| Tensor::zeros([out], (Kind::Double, w.device())));
    match norm {
        None => (w, b),
        Some(bn) => {
            let scale = f64_of(&bn.weight) / (f64_of(&bn.running_var) + BN_EPS).sqrt();
            let mut shape = vec![1i64; w.dim()];
            shape[out_dim] = out;
            let folded_b = (b - f64_of(&bn.running_mean)) * &scale + f64_of(&bn.bias);
            (w * scale.view(shape.as_slice()), folded_b)
        }
    }
}

/// A fully connected layer with bias (PyTorch `Linear`).
pub(crate) struct Linear {
    weight: Tensor,
    bias: Tensor,
}

impl Linear {
    pub(crate) fn new(reg: &mut Registry, p: &Path, din: i64, dout: i64) -> Self {
        let bound = 1.0 / (din as f64).sqrt();
        let weight = reg.var(p, "weight", &[dout, din], Init::Uniform(bound));
        let bias = reg.var(p, "bias", &[dout], Init::Uniform(bound));
        Self { weight, bias }
    }

    pub(crate) fn forward(&self, x: &Tensor, c: Compute) -> Tensor {
        c.operand(x)
            .linear(&c.operand(&self.weight), Some(&c.operand(&self.bias)))
    }
}

impl Linear {
    /// This layer prepared for inference, followed by `norm` in evaluation mode when given
    /// (folded in, as [`Conv::prepare`]), its weights in `c`'s number format.
    pub(crate) fn prepare(&self, norm: Option<&BatchNorm>, c: Compute) -> PreparedLinear {
        let (w, b) = fold(&self.weight, Some(&self.bias), norm, 0);
        PreparedLinear {
            weight: c.operand(&w.to_kind(Kind::Float)),
            bias: c.operand(&b.to_kind(Kind::Float)),
        }
    }
}

/// A fully connected layer with a BatchNorm folded in ([`Linear::prepare`]).
pub(crate) struct PreparedLinear {
    weight: Tensor,
    bias: Tensor,
}

impl PreparedLinear {
    /// The layer's output for `x`.
    pub(crate) fn forward(&self, x: &Tensor, c: Compute) -> Tensor {
        c.operand(x).linear(&self.weight, Some(&self.bias))
    }
}

/// BatchNorm1d / BatchNorm2d with PyTorch's buffers and defaults.
pub(crate) struct BatchNorm {
    weight: Tensor,
    bias: Tensor,
    running_mean: Tensor,
    running_var: Tensor,
}

impl BatchNorm {
    pub(crate) fn new(reg: &mut Registry, p: &Path, n: i64) -> Self {
        let weight = reg.var(p, "weight", &[n], Init::Const(1.0));
        let bias = reg.var(p, "bias", &[n], Init::Const(0.0));
        let running_mean = reg.buffer(p, "running_mean", &[n], 0.0);
        let running_var = reg.buffer(p, "running_var", &[n], 1.0);
        let counter = p.add(
            "num_batches_tracked",
            Tensor::zeros([], (Kind::Int64, p.device())),
            false,
        );
        reg.inits.push((counter.shallow_clone(), Init::Const(0.0)));
        reg.batch_counters.push(counter);
        Self {
            weight,
            bias,
            running_mean,
            running_var,
        }
    }

    pub(crate) fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        x.batch_norm(
            Some(&self.weight),
            Some(&self.bias),
            Some(&self.running_mean),
            Some(&self.running_var),
            train,
            BN_MOMENTUM,
            BN_EPS,
            true,
        )
    }
}

/// Copies `tensors` (PyTorch `state_dict` names, read from `source`) into `vars` (a model's
/// variables by the same names) on `device`. Every variable must be present with its shape,
/// and nothing else; errors name `source` and `model` (what the weights were loaded into).
pub(crate) fn copy_state_dict(
    vars: &BTreeMap<String, Tensor>,
    tensors: &HashMap<String, Tensor>,
    source: &str,
    model: &str,
    device: Device,
) -> anyhow::Result<()> {
    let missing: Vec<&str> = vars
        .keys()
        .filter(|k| !tensors.contains_key(*k))
        .map(String::as_str)
        .collect();
    let mut unexpected: Vec<&str> = tensors
        .keys()
        .filter(|k| !vars.contains_key(*k))
        .map(String::as_str)
        .collect();
    unexpected.sort();
    anyhow::ensure!(
        missing.is_empty() && unexpected.is_empty(),
        "weights in {source} do not match {model}: missing {missing:?}, unexpected {unexpected:?}"
    );
    let _guard = tch::no_grad_guard();
    for (name, var) in vars {
        let src = &tensors[name];
        anyhow::ensure!(
            src.size() == var.size(),
            "weight '{name}' in {source} has shape {:?} but {model} needs {:?}",
            src.size(),
            var.size()
        );
        var.shallow_clone()
            .copy_(&src.to_kind(var.kind()).to_device(device));
    }
    Ok(())
}
