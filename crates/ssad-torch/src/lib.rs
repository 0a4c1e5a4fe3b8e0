//! ssad-torch: detectors trained with libtorch through `tch`.
