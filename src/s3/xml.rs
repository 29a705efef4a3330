//! XML documents: ListAllMyBucketsResult, LocationConstraint, and the streaming rewrite of a
//! backend's ListBucketResult (strip `backend_prefix`, rename the bucket).
