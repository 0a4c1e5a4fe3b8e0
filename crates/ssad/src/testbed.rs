//! Testbeds: in-the-wild (semantic class pairs) and controlled (known anomaly generator).
