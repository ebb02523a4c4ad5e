import { createTheme, darken, defaultVariantColorsResolver, parseThemeColor, type VariantColorsResolver } from '@mantine/core';

/**
 * Light-variant badges, buttons and alerts take a darkened shade 9 for their text: Mantine's default (shade 6 on the
 * pale background, about 2.5:1 for teal) fails WCAG AA, and so does plain shade 9 for teal (4.4:1) and orange.
 */
const variantColorResolver: VariantColorsResolver = (input) => {
  const colors = defaultVariantColorsResolver(input);
  if (input.variant !== 'light') return colors;
  const parsed = parseThemeColor({ color: input.color ?? input.theme.primaryColor, theme: input.theme });
  return parsed.isThemeColor && parsed.shade === undefined ? { ...colors, color: darken(input.theme.colors[parsed.color][9], 0.25) } : colors;
};

export const theme = createTheme({
  primaryColor: 'indigo',
  // Shade 8: white on the primary colour meets WCAG AA contrast (4.5:1); the default shade 6 does not.
  primaryShade: 8,
  fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif',
  defaultRadius: 'sm',
  variantColorResolver,
});
