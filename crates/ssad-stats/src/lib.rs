//! ssad-stats: detection metrics and paired statistics (METHOD.md section 5).
