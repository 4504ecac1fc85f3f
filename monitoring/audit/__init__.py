"""The audit-log pages: the product's audit log filtered, charted and exported (``filters``, ``selectors``,
``views``)."""
