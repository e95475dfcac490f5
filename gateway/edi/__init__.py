"""Electronic data interchange formats, as a pure core (bytes and objects in, objects and bytes out).

``gateway.edi.x12`` reads, validates, acknowledges and writes ASC X12 interchanges. Nothing under ``gateway.edi``
performs I/O, reads the clock or imports the transports, the store, the API or the flows.
"""
