import { ecod, type OutlierReport } from '../gate/outliers';
import type { Profile } from './profile';

export interface ProfileOutliers extends OutlierReport {
  /** The numeric and yes/no columns scored (yes/no as 1/0). */
  columns: string[];
}

/** The profile columns that hold numbers or booleans in at least one profile, in first-seen order. */
export function numericColumns(profiles: Profile[]): string[] {
  const columns = new Set<string>();
  for (const profile of profiles) {
    for (const [column, value] of Object.entries(profile)) {
      if (typeof value === 'number' || typeof value === 'boolean') columns.add(column);
    }
  }
  return [...columns];
}

/** ECOD over the profiles' numeric columns; a face field left null by a face-free image counts as missing. */
export function profileOutliers(profiles: Profile[], contamination: number): ProfileOutliers {
  const columns = numericColumns(profiles);
  const rows = profiles.map((profile) =>
    columns.map((column) => {
      const value = profile[column];
      if (typeof value === 'boolean') return value ? 1 : 0;
      return typeof value === 'number' ? value : null;
    }),
  );
  return { ...ecod(rows, columns, contamination), columns };
}
