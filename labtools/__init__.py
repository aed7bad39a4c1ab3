"""The lab's own tooling: developer and instructor commands, kept out of the ``aether`` library.

``aether`` is what the chapters teach and import; ``labtools`` is what keeps the
collection in shape and publishes it. Nothing in ``aether`` imports it.

* ``python -m labtools.notebooks run|list|student``: re-execute the notebooks in
  place (reproducibly, with normalised metadata), list them, write attendee copies;
* ``python -m labtools.slots``: each chapter's core time by the workshop slot estimate;
* ``python -m labtools.site build``: the collection's web site, from the committed
  notebooks, with no re-execution.
"""
