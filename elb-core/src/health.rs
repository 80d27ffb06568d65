//! The health report of an ElasticBLAST service.
