//! ssad-augment: the catalogue of augmentation functions (METHOD.md section 3).
