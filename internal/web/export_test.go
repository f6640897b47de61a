package web

// DeviceOf is deviceOf, for the external tests.
var DeviceOf = deviceOf
