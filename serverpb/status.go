package serverpb

// ClusterUnavailablePrefix starts the message of every codes.Unavailable
// status that a node returns because the cluster could not serve a request
// (no quorum, no leader in time). A client tells it apart from a failure to
// reach the node itself, whose Unavailable statuses come from gRPC.
const ClusterUnavailablePrefix = "cluster unavailable: "
