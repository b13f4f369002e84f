class OfferPages:
    pass
