/** What something cost, in PRICE_CURRENCY: `Usage.cost` and `Viewer.spentToday`. (Types only: the wire types use it.) */
export interface Cost {
  amount: number;
  currency: string;
  /** UPSTREAM: reported by the upstream; PRICE_TABLE: computed by ChatQL from the model's prices. */
  source: 'UPSTREAM' | 'PRICE_TABLE';
}
