// Flat config: typescript-eslint's strict rules on top of ESLint's recommended ones.
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/', 'vendor/', 'node_modules/', 'runs/', 'build/'] },
  eslint.configs.recommended,
  ...tseslint.configs.strict,
  {
    // Plain JS entry points and scripts run on Node.
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly', Buffer: 'readonly' },
    },
  },
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
