//! The GEOM classifier networks: a backbone (ConvAE encoder or wide ResNet) and a K-way
//! linear head, over plain libtorch tensors.
//!
//! The layers are those of [`crate::layers`] (PyTorch names and default initialisation);
//! `scripts/fixtures/torch_geom.py` holds the equivalent PyTorch modules.

use crate::layers::{BatchNorm, Compute, Conv, ConvGeometry, Linear, Registry, HALVING};
use ssad_core::model::{Backbone, GeomConfig};
use ssad_core::ImageShape;
use tch::nn::Path;
use tch::{Kind, Tensor};

/// A 3x3 convolution with padding 1 and this stride.
fn conv3(stride: i64) -> ConvGeometry {
    ConvGeometry {
        kernel: 3,
        stride,
        padding: 1,
    }
}

/// A pre-activation wide-ResNet basic block (`BN-ReLU-conv3x3-BN-ReLU-conv3x3`, with a 1x1
/// convolution of the activated input as shortcut when the width or stride changes).
struct WideBlock {
    bn1: BatchNorm,
    conv1: Conv,
    bn2: BatchNorm,
    conv2: Conv,
    shortcut: Option<Conv>,
}

impl WideBlock {
    fn new(reg: &mut Registry, p: &Path, cin: i64, cout: i64, stride: i64) -> Self {
        let bn1 = BatchNorm::new(reg, &p.sub("bn1"), cin);
        let conv1 = Conv::new(reg, &p.sub("conv1"), (cin, cout), conv3(stride), false);
        let bn2 = BatchNorm::new(reg, &p.sub("bn2"), cout);
        let conv2 = Conv::new(reg, &p.sub("conv2"), (cout, cout), conv3(1), false);
        let one_by_one = ConvGeometry {
            kernel: 1,
            stride,
            padding: 0,
        };
        let shortcut = (cin != cout || stride != 1)
            .then(|| Conv::new(reg, &p.sub("shortcut"), (cin, cout), one_by_one, false));
        Self {
            bn1,
            conv1,
            bn2,
            conv2,
            shortcut,
        }
    }

    fn forward(&self, x: &Tensor, train: bool, c: Compute) -> Tensor {
        let a = self.bn1.forward(x, train).relu();
        let y = self.bn2.forward(&self.conv1.forward(&a, c), train).relu();
        let y = self.conv2.forward(&y, c);
        match &self.shortcut {
            Some(s) => s.forward(&a, c) + y,
            None => x + y,
        }
    }
}

/// Layers of a backbone.
enum Layers {
    ConvAe {
        /// `encoder.{0..3}`: conv (stride 2) -> BN -> ReLU.
        blocks: Vec<(Conv, BatchNorm)>,
        /// `encoder.5`: flatten -> Linear(8F*2*2, H), then tanh.
        out: Linear,
    },
    Wide {
        /// `conv1`: 3x3 convolution to 16 channels.
        stem: Conv,
        /// `block{1,2,3}.{i}`: the three groups.
        blocks: Vec<WideBlock>,
        /// `bn`: final BN -> ReLU -> global average pool.
        norm: BatchNorm,
    },
}

/// A GEOM classifier: backbone features, then `head` (Linear to K logits).
pub(crate) struct GeomNet {
    layers: Layers,
    head: Linear,
    feature_dim: usize,
    registry: Registry,
    /// Number format and activation layout of the forward pass.
    pub(crate) compute: Compute,
}

/// Number of trainable parameters of `cfg`'s backbone plus a K-way head, from the formula.
pub(crate) fn parameter_count(cfg: &GeomConfig, shape: ImageShape, classes: usize) -> usize {
    let c = shape.channels;
    let linear = |i: usize, o: usize| i * o + o;
    let bn = |o: usize| 2 * o;
    match cfg.backbone {
        Backbone::ConvAeEncoder => {
            let (f, h) = (cfg.width, cfg.embedding);
            let block = |i: usize, o: usize| i * o * 9 + o + bn(o);
            block(c, f)
                + block(f, 2 * f)
                + block(2 * f, 4 * f)
                + block(4 * f, 8 * f)
                + linear(8 * f * 4, h)
                + linear(h, classes)
        }
        Backbone::WideResNet { depth, widen } => {
            let n = (depth - 4) / 6;
            let widths = [16, 16 * widen, 32 * widen, 64 * widen];
            let mut total = c * 16 * 9;
            for g in 0..3 {
                for i in 0..n {
                    let cin = if i == 0 { widths[g] } else { widths[g + 1] };
                    let cout = widths[g + 1];
                    let stride_change = i == 0 && g > 0;
                    total += bn(cin) + cin * cout * 9 + bn(cout) + cout * cout * 9;
                    if cin != cout || stride_change {
                        total += cin * cout;
                    }
                }
            }
            total + bn(widths[3]) + linear(widths[3], classes)
        }
    }
}

impl GeomNet {
    /// Creates the variables of `cfg` with a `classes`-way head for images of `shape` (all
    /// zeros; call [`GeomNet::reset`]).
    pub(crate) fn build(root: &Path, cfg: &GeomConfig, shape: ImageShape, classes: usize) -> Self {
        let mut reg = Registry::default();
        let c = shape.channels as i64;
        let (layers, feature_dim) = match cfg.backbone {
            Backbone::ConvAeEncoder => {
                let f = cfg.width as i64;
                let h = cfg.embedding as i64;
                let chans = [c, f, 2 * f, 4 * f, 8 * f];
                let enc = root.sub("encoder");
                let blocks = (0..4)
                    .map(|i| {
                        let p = enc.sub(i).sub("layers");
                        let conv = Conv::new(
                            &mut reg,
                            &p.sub("0"),
                            (chans[i], chans[i + 1]),
                            HALVING,
                            true,
                        );
                        let norm = BatchNorm::new(&mut reg, &p.sub("1"), chans[i + 1]);
                        (conv, norm)
                    })
                    .collect();
                let out = Linear::new(&mut reg, &enc.sub(5), 8 * f * 4, h);
                (Layers::ConvAe { blocks, out }, cfg.embedding)
            }
            Backbone::WideResNet { depth, widen } => {
                let n = (depth - 4) / 6;
                let w = widen as i64;
                let widths = [16, 16 * w, 32 * w, 64 * w];
                let stem = Conv::new(&mut reg, &root.sub("conv1"), (c, 16), conv3(1), false);
                let mut blocks = Vec::new();
                for g in 0..3 {
                    let group = root.sub(format!("block{}", g + 1));
                    for i in 0..n {
                        let cin = if i == 0 { widths[g] } else { widths[g + 1] };
                        let stride = if i == 0 && g > 0 { 2 } else { 1 };
                        blocks.push(WideBlock::new(
                            &mut reg,
                            &group.sub(i),
                            cin,
                            widths[g + 1],
                            stride,
                        ));
                    }
                }
                let norm = BatchNorm::new(&mut reg, &root.sub("bn"), widths[3]);
                (Layers::Wide { stem, blocks, norm }, widths[3] as usize)
            }
        };
        let head = Linear::new(
            &mut reg,
            &root.sub("head"),
            feature_dim as i64,
            classes as i64,
        );
        Self {
            layers,
            head,
            feature_dim,
            registry: reg,
            compute: Compute::default(),
        }
    }

    /// Size of the feature vector before the head (the embedding).
    pub(crate) fn feature_dim(&self) -> usize {
        self.feature_dim
    }

    /// (Re)initialises every tensor from `seed` as PyTorch's defaults do (uniform in
    /// +-1/sqrt(fan_in); BatchNorm scale 1, shift 0, running mean 0, variance 1), drawing from a
    /// ChaCha stream rather than libtorch's global generator.
    pub(crate) fn reset(&self, seed: u64) {
        self.registry
            .reset(ssad_core::augment::splitmix64(seed ^ 0x4745_4f4d));
    }

    /// Adds one to every BatchNorm's `num_batches_tracked` (after a training forward pass).
    pub(crate) fn count_batch(&self) {
        self.registry.count_batch();
    }

    /// Backbone features of `x` (`N x C x H x W`): `N x feature_dim`, in fp32.
    pub(crate) fn features(&self, x: &Tensor, train: bool) -> Tensor {
        self.compute.output(self.features_raw(x, train))
    }

    /// Backbone features in the compute's number format.
    fn features_raw(&self, x: &Tensor, train: bool) -> Tensor {
        let c = self.compute;
        match &self.layers {
            Layers::ConvAe { blocks, out } => {
                let mut y = x.shallow_clone();
                for (conv, norm) in blocks {
                    y = norm.forward(&conv.forward(&y, c), train).relu();
                }
                out.forward(&y.flatten(1, -1), c).tanh()
            }
            Layers::Wide { stem, blocks, norm } => {
                let mut y = stem.forward(x, c);
                for b in blocks {
                    y = b.forward(&y, train, c);
                }
                norm.forward(&y, train)
                    .relu()
                    .mean_dim([2i64, 3].as_slice(), false, Kind::Float)
            }
        }
    }

    /// Logits of `x`: `N x K`, in fp32.
    pub(crate) fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let c = self.compute;
        c.output(self.head.forward(&self.features_raw(x, train), c))
    }
}
