"""An analysis service (CreativeDynamics, guide seed 001) monitored by watchkeeper."""
