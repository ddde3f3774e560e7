"""AAS data exchange: AASX packages and XML environments, in and out, with safe-import limits.

`limits` holds the rules a package must keep before anything of it is parsed, `xml` the XML
environment reader and writer (aas-core3.0's xmlization behind a parser without DTDs), `aasx` the
OPC package reader and writer (pyecma376-2, the packaging library of BaSyx Python), `files` the
mapping between File values and package parts, `export` the environment writers fed from the store.
"""
