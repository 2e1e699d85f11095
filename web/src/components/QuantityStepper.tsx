// Seats or units: − and + buttons around a number field, 1 to the gateway's 10,000.
export const MAX_QUANTITY = 10_000;

export function QuantityStepper({ label, value, onChange, disabled = false }: {
  label: string;
  value: number;
  onChange: (value: number) => void;
  disabled?: boolean;
}) {
  const set = (n: number) => onChange(Math.min(MAX_QUANTITY, Math.max(1, Math.trunc(n) || 1)));
  return (
    <div className="stepper" role="group" aria-label={label}>
      <span className="stepper-label">{label}</span>
      <button type="button" aria-label={`Fewer ${label.toLowerCase()}`} disabled={disabled || value <= 1} onClick={() => set(value - 1)}>−</button>
      <input
        type="number"
        inputMode="numeric"
        min={1}
        max={MAX_QUANTITY}
        aria-label={label}
        value={value}
        disabled={disabled}
        onChange={(e) => set(Number(e.target.value))}
      />
      <button type="button" aria-label={`More ${label.toLowerCase()}`} disabled={disabled || value >= MAX_QUANTITY} onClick={() => set(value + 1)}>+</button>
    </div>
  );
}
