"""Business objects: orders and shipments joined across messages by their business keys (pure core).

* :mod:`gateway.business.keys` -- how a key is normalised so ``0018061923``, ``18061923`` and ``po-18061923 `` meet;
* :mod:`gateway.business.stage` -- the stage (ordered, shipped, in transit, delivered, exception) from W05/W06/BSN
  and 214 AT7 status codes, and the milestones service levels are measured between;
* :mod:`gateway.business.quantities` -- quantities ordered against shipped, per line, short and over flagged;
* :mod:`gateway.business.service_levels` -- which declared service levels a timeline breaches, and when to look
  again.

The store side is :mod:`gateway.store.business`; the scheduled job :mod:`gateway.flows.service_levels`.
"""
