//! Dataset loaders (MNIST, Fashion-MNIST, CIFAR-10, SVHN, image folders) and the data directory.
