//! The autoencoder networks (METHOD.md section 2) over the layers of [`crate::layers`], named
//! like a PyTorch `state_dict()`; crates/ssad-torch/python/bench_train_torch.py holds the equivalent PyTorch
//! modules.

use crate::layers::{
    layout_geometry, BatchNorm, Compute, Conv, ConvGeometry, Linear, PreparedConv, PreparedLinear,
    Registry,
};
use ssad_core::model::{ModelConfig, ModelKind};
use ssad_core::ImageShape;
use tch::nn::Path;
use tch::Tensor;

/// Conv -> BatchNorm2d -> ReLU, or (last decoder block) conv -> sigmoid.
/// Named like PyTorch's `Block.layers` Sequential: `layers.0` conv, `layers.1` norm.
struct Block {
    conv: Conv,
    norm: Option<BatchNorm>,
}

impl Block {
    fn new(
        reg: &mut Registry,
        p: &Path,
        (cin, cout): (i64, i64),
        geometry: ConvGeometry,
        transposed: bool,
        last: bool,
    ) -> Self {
        let layers = p.sub("layers");
        let conv = if transposed {
            Conv::transposed(reg, &layers.sub("0"), (cin, cout), geometry)
        } else {
            Conv::new(reg, &layers.sub("0"), (cin, cout), geometry, true)
        };
        let norm = (!last).then(|| BatchNorm::new(reg, &layers.sub("1"), cout));
        Self { conv, norm }
    }

    fn forward(&self, x: &Tensor, train: bool, c: Compute) -> Tensor {
        let y = self.conv.forward(x, c);
        match &self.norm {
            Some(bn) => bn.forward(&y, train).relu(),
            None => y.sigmoid(),
        }
    }
}

/// Layers of one network family.
enum Layers {
    Conv {
        encoder_blocks: Vec<Block>,
        encoder_out: Linear,
        decoder_in: Linear,
        decoder_norm: BatchNorm,
        decoder_blocks: Vec<Block>,
        top_channels: i64,
        bottom: i64,
    },
    Dense {
        enc1: Linear,
        enc2: Linear,
        dec1: Linear,
        dec2: Linear,
    },
    Linear {
        enc: Linear,
        dec: Linear,
    },
}

/// One autoencoder: its layers plus the init rules of all its tensors.
pub(crate) struct Network {
    layers: Layers,
    shape: ImageShape,
    registry: Registry,
    /// Number format and activation layout of the forward pass.
    pub(crate) compute: Compute,
}

impl Network {
    /// Creates the variables of `cfg` for images of `shape` under `root` (all zeros; call
    /// [`Network::reset`] to initialise them).
    pub(crate) fn build(root: &Path, cfg: &ModelConfig, shape: ImageShape) -> Self {
        let mut reg = Registry::default();
        let c = shape.channels as i64;
        let d = shape.numel() as i64;
        let h = cfg.embedding as i64;
        let enc = root.sub("encoder");
        let dec = root.sub("decoder");
        let layers = match cfg.kind {
            ModelKind::ConvAe => {
                let plan = cfg
                    .conv_plan(shape)
                    .expect("ModelConfig::validate accepts the shape before a network is built");
                let geometry = layout_geometry(plan.layout);
                let n = plan.blocks;
                let mut chans = vec![c];
                chans.extend(plan.channels.iter().map(|&ch| ch as i64));
                let bottom = plan.bottom as i64;
                let top = chans[n] * bottom * bottom;
                let encoder_blocks = (0..n)
                    .map(|i| {
                        let io = (chans[i], chans[i + 1]);
                        Block::new(&mut reg, &enc.sub(i), io, geometry, false, false)
                    })
                    .collect();
                // encoder.n is Flatten, encoder.n+2 Tanh (no parameters).
                let encoder_out = Linear::new(&mut reg, &enc.sub(n + 1), top, h);
                let decoder_in = Linear::new(&mut reg, &dec.sub(0), h, top);
                let decoder_norm = BatchNorm::new(&mut reg, &dec.sub(1), top);
                // decoder.2 is ReLU, decoder.3 Unflatten; blocks are decoder.4..4+n.
                let decoder_blocks = (0..n)
                    .map(|i| {
                        let io = (chans[n - i], chans[n - i - 1]);
                        let last = i == n - 1;
                        Block::new(&mut reg, &dec.sub(4 + i), io, geometry, true, last)
                    })
                    .collect();
                Layers::Conv {
                    encoder_blocks,
                    encoder_out,
                    decoder_in,
                    decoder_norm,
                    decoder_blocks,
                    top_channels: chans[n],
                    bottom,
                }
            }
            ModelKind::DenseAe => Layers::Dense {
                // encoder: 0 Flatten, 1 Linear, 2 LeakyReLU, 3 Linear, 4 Tanh;
                // decoder: 0 Linear, 1 LeakyReLU, 2 Linear, 3 Sigmoid, 4 Unflatten.
                enc1: Linear::new(&mut reg, &enc.sub(1), d, 2 * h),
                enc2: Linear::new(&mut reg, &enc.sub(3), 2 * h, h),
                dec1: Linear::new(&mut reg, &dec.sub(0), h, 2 * h),
                dec2: Linear::new(&mut reg, &dec.sub(2), 2 * h, d),
            },
            ModelKind::LinearAe => Layers::Linear {
                // encoder: 0 Flatten, 1 Linear; decoder: 0 Linear, 1 Sigmoid, 2 Unflatten.
                enc: Linear::new(&mut reg, &enc.sub(1), d, h),
                dec: Linear::new(&mut reg, &dec.sub(0), h, d),
            },
        };
        Self {
            layers,
            shape,
            registry: reg,
            compute: Compute::default(),
        }
    }

    /// (Re)initialises every parameter and buffer from `seed`, as PyTorch's default
    /// initialisation does (uniform in +-1/sqrt(fan_in); BatchNorm scale 1, shift 0, running
    /// mean 0, variance 1).
    ///
    /// The draws come from a ChaCha stream of `seed`, not from libtorch's global generator, so
    /// models built concurrently in one process stay reproducible.
    pub(crate) fn reset(&self, seed: u64) {
        self.registry.reset(ssad_core::augment::splitmix64(seed));
    }

    /// Computes with `compute` from now on, its convolution weights stored in its layout.
    pub(crate) fn set_compute(&mut self, compute: Compute) {
        self.compute = compute;
        self.registry.set_conv_weight_layout(compute.channels_last);
    }

    /// Adds one to every BatchNorm's `num_batches_tracked` (after a training forward pass).
    pub(crate) fn count_batch(&self) {
        self.registry.count_batch();
    }

    /// The embedding of `x` (`N x C x H x W`): `N x H`, in fp32.
    pub(crate) fn encode(&self, x: &Tensor, train: bool) -> Tensor {
        self.compute.output(self.encode_raw(x, train))
    }

    /// The embedding in the compute's number format.
    fn encode_raw(&self, x: &Tensor, train: bool) -> Tensor {
        let c = self.compute;
        match &self.layers {
            Layers::Conv {
                encoder_blocks,
                encoder_out,
                ..
            } => {
                let mut y = x.shallow_clone();
                for b in encoder_blocks {
                    y = b.forward(&y, train, c);
                }
                encoder_out.forward(&y.flatten(1, -1), c).tanh()
            }
            Layers::Dense { enc1, enc2, .. } => enc2
                .forward(&enc1.forward(&x.flatten(1, -1), c).leaky_relu(), c)
                .tanh(),
            Layers::Linear { enc, .. } => enc.forward(&x.flatten(1, -1), c),
        }
    }

    /// The reconstruction (`N x C x H x W`, values in (0, 1)) of embeddings `z`, in the
    /// compute's number format.
    fn decode_raw(&self, z: &Tensor, train: bool) -> Tensor {
        let c = self.compute;
        let s = self.shape;
        let image = [-1, s.channels as i64, s.height as i64, s.width as i64];
        match &self.layers {
            Layers::Conv {
                decoder_in,
                decoder_norm,
                decoder_blocks,
                top_channels,
                bottom,
                ..
            } => {
                let y = decoder_norm
                    .forward(&decoder_in.forward(z, c), train)
                    .relu();
                let mut y = y.view([-1, *top_channels, *bottom, *bottom]);
                for b in decoder_blocks {
                    y = b.forward(&y, train, c);
                }
                y
            }
            Layers::Dense { dec1, dec2, .. } => dec2
                .forward(&dec1.forward(z, c).leaky_relu(), c)
                .sigmoid()
                .view(image),
            Layers::Linear { dec, .. } => dec.forward(z, c).sigmoid().view(image),
        }
    }

    /// Reconstruction of `x` (encode then decode), in fp32.
    pub(crate) fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        self.compute
            .output(self.decode_raw(&self.encode_raw(x, train), train))
    }
}

/// A network prepared for inference ([`Network::inference`]): the ConvAE's BatchNorms folded
/// into the layers before them and every weight cast and laid out once for the network's
/// compute, so that scoring a batch runs one convolution (and its activation) per block and
/// no per-call weight casts. Exact up to float rounding (tested against the unfolded network).
pub(crate) enum Inference<'a> {
    /// The folded ConvAE.
    Conv {
        /// Encoder blocks (convolution + folded norm, then ReLU).
        encoder: Vec<PreparedConv>,
        /// The bottleneck layer (then tanh).
        encoder_out: PreparedLinear,
        /// The decoder's first layer with its folded norm (then ReLU).
        decoder_in: PreparedLinear,
        /// Decoder blocks (the last one ends in a sigmoid, the others in a ReLU).
        decoder: Vec<PreparedConv>,
        /// Channels and side of the decoder's first feature map.
        top: (i64, i64),
        /// Number format and layout.
        compute: Compute,
    },
    /// The dense and linear autoencoders have no norm to fold: their own forward pass.
    Plain(&'a Network),
}

impl Network {
    /// This network prepared for inference with its current weights (see [`Inference`]);
    /// prepare again after the weights change.
    pub(crate) fn inference(&self) -> Inference<'_> {
        let c = self.compute;
        match &self.layers {
            Layers::Conv {
                encoder_blocks,
                encoder_out,
                decoder_in,
                decoder_norm,
                decoder_blocks,
                top_channels,
                bottom,
            } => {
                let _guard = tch::no_grad_guard();
                let prep = |b: &Block| b.conv.prepare(b.norm.as_ref(), c);
                Inference::Conv {
                    encoder: encoder_blocks.iter().map(prep).collect(),
                    encoder_out: encoder_out.prepare(None, c),
                    decoder_in: decoder_in.prepare(Some(decoder_norm), c),
                    decoder: decoder_blocks.iter().map(prep).collect(),
                    top: (*top_channels, *bottom),
                    compute: c,
                }
            }
            _ => Inference::Plain(self),
        }
    }
}

impl Inference<'_> {
    /// The embedding of `x` in fp32, as [`Network::encode`] in evaluation mode.
    pub(crate) fn encode(&self, x: &Tensor) -> Tensor {
        match self {
            Inference::Conv {
                encoder,
                encoder_out,
                compute,
                ..
            } => compute.output(self.encode_raw(x, encoder, encoder_out, *compute)),
            Inference::Plain(net) => net.encode(x, false),
        }
    }

    fn encode_raw(
        &self,
        x: &Tensor,
        encoder: &[PreparedConv],
        encoder_out: &PreparedLinear,
        c: Compute,
    ) -> Tensor {
        let mut y = x.shallow_clone();
        for conv in encoder {
            y = conv.forward(&y, c).relu();
        }
        encoder_out.forward(&y.flatten(1, -1), c).tanh()
    }

    /// The reconstruction of `x` in fp32, as [`Network::forward`] in evaluation mode.
    pub(crate) fn forward(&self, x: &Tensor) -> Tensor {
        match self {
            Inference::Conv {
                encoder,
                encoder_out,
                decoder_in,
                decoder,
                top: (channels, side),
                compute,
            } => {
                let c = *compute;
                let z = self.encode_raw(x, encoder, encoder_out, c);
                let mut y = decoder_in
                    .forward(&z, c)
                    .relu()
                    .view([-1, *channels, *side, *side]);
                for (i, conv) in decoder.iter().enumerate() {
                    y = conv.forward(&y, c);
                    y = if i + 1 == decoder.len() {
                        y.sigmoid()
                    } else {
                        y.relu()
                    };
                }
                c.output(y)
            }
            Inference::Plain(net) => net.forward(x, false),
        }
    }
}
